"""The text kernel: how a message is read (normalisation, phrases, negation, words, tone).

The bottom of the core: scenarios, the engine and the evaluator import it; it imports
nothing of theirs.
"""
