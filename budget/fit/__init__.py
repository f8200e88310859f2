"""``budget fit``: the cheapest configuration this program can deploy that still carries a phase's users.

space.py    the choices (instance types and counts, purchase options, egress, CDN, data stores) and how
            each becomes stack config; servers are sized by the capacity model, never by hand
pricer.py   prices a candidate with check's rules and catalog, re-planning only the tiers it changed
search.py   the search, the runner-up front, and when nothing fits: the lowest limit, the most users the
            limit buys, and the usage assumption that decides it
report.py   the typed result and its JSON; render.py the table and Markdown; write.py the stack file edit
run.py      one stack fitted; stacks.py fits stacks named by their files (the ``fit`` and ``report``
            commands, budget/cli/)
"""
