"""Completion values (placeholder until the completion engine lands)."""


def domain_names(ctx, incomplete):
    return []


def disk_targets(ctx, incomplete):
    return []


def local_files(incomplete):
    return []
