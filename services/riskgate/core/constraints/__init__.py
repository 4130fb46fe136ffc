"""The constraints of the chain, one small unit each: ``(proposal, context) -> Verdict``.

A constraint without settings is a function reading ``context.limits``; one with settings is
an immutable object with ``__call__``. They return values and do nothing else.
"""
