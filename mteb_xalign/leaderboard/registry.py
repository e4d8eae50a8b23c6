"""What the leaderboard reads from the registry (mteb's and our plugins'): the tasks, their order, and the
model names a submission may imitate. Called through this module (`registry.registered_task`), so a
test can stand in for the registry."""

from __future__ import annotations

from mteb_xalign import mteb_bridge, plugins


def registered_models() -> dict[str, str | None]:
    """{name: revision} of every model mteb knows here (ours included): names a submission may imitate."""
    import mteb  # seconds: only when a page is built or a result verified

    mteb_bridge.ensure_registered()
    return {meta.name: meta.revision for meta in mteb.get_model_metas() if meta.name}


def registered_task(name: str):
    import mteb  # deferred: mteb is slow to import

    mteb_bridge.ensure_registered()
    return mteb.get_task(name)


def registered_task_order() -> list[str]:
    """Task names in registration order (the bundled benchmark's tasks first)."""
    return [task_cls.metadata.name for _, task_cls in plugins.get_tasks()]
