"""The actors of the model, one module each (see the step table, model/steps.py).

| module | actor | what it does |
| --- | --- | --- |
| publisher | the image publisher | publishes versions of the sku (R2, D14) |
| maintenance | maintenance | takes instances down and up (R8, D10) |
| application | the application's probe | answers healthy or not (R6, R7) |
| expiry | time | expires credentials (R14, D15) |
| user | the user | credentials, deploys, scaling, opt in/out, start, cancel |
| orchestrator | the upgrade orchestrator | runs and batches (R2, R4-R8, R12-R14, D1-D7a) |
| instances | the instance lifecycle | each VM's operations, phase by phase (R3, R18, D10) |
| deploy | the model deploy | re-runs extensions everywhere (R15, D8) |

Each action takes the scale set (the shared state, model/scaleset.py) as its
first argument; a call to another actor is a call on that actor's module,
imported by name.
"""
