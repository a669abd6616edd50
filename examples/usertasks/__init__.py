"""Example user tasks for ``--task`` (see docs/user-tasks.md): realistic work, not toys.

Run them with ``PYTHONPATH=examples LAB_TASK_MODULES=usertasks``, e.g.
``producer compare --task usertasks.orders:revenue_report --kwargs '{"year": 2024}'``.
"""
