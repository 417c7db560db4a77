"""Limits: plans, and the quotas that enforce them — reserve before a call, settle after.

Two backends share one interface: in-process memory (one process, the embedded default) and
Redis (atomic scripts) for several workers or replicas.
"""
