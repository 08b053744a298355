"""The conversation service: every chat turn of practice and exams, outside the web layer.

`service.ConversationService` starts, runs and ends conversations on an injected clock;
`policy` holds what differs between practice and exams; `live` is the full path (the engine
state rebuilt from stored messages); `cache` the fast path (the state kept between turns,
turns stored in batches); `locks` the per-attempt locks; `events` the monitor's news.
"""
