"""From files to plans: YAML with `extends` and locations, validation into a `Plan`, CRM
exports, a re-forecast's pipeline, and the playbook linter.
"""
