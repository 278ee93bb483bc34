"""The skills container: validates Agent Skills and publishes them to the agent.

Source (``BLOGPOD_SKILLS_SOURCE``, a mounted ConfigMap in the Pod), two layouts, mixable:

* tree: ``<name>/SKILL.md`` plus any other files (``scripts/``, ``references/``,
  ``assets/``); from a ConfigMap with ``items: [{key: blog-writer, path: blog-writer/SKILL.md}]``;
* flat: ``<name>.md`` is the one-file skill ``<name>/SKILL.md`` (plain ConfigMap keys).

Modules: :mod:`.model` (a skill in memory), :mod:`.validator` (format rules and findings),
:mod:`.source` (both layouts, limits, symlinks), :mod:`.publisher` (snapshots, last good per
skill, garbage collection), :mod:`.watcher` (``..data`` swaps, periodic resync),
:mod:`.upload` (safe zip handling), :mod:`.app` (REST API), :mod:`.cli` (``blogpod skills
check``), :mod:`.catalog` (the read-only contract the agent imports).
"""
