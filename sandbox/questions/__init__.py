"""Question banks: the model, the loader with line numbers, scoring, draws and item statistics.

Pure core, beside `scenarios` and `exams`: no database, no clock. Files are read only
through the loader's entry points (`load_bank`, `load_banks`).
"""
