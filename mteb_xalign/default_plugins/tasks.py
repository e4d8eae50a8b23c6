"""Default plugin: the project's own tasks and benchmark, registered exactly like a third party's."""

from mteb_xalign import hookimpl


@hookimpl
def register_tasks(register):
    from mteb_xalign.tasks.bundled import bundled_tasks  # deferred: mteb, scipy are slow to import

    for task_cls in bundled_tasks():
        register(task_cls)


@hookimpl
def register_benchmarks(register):
    from mteb_xalign.tasks.bundled import benchmark  # deferred: mteb, scipy are slow to import

    register(benchmark())
