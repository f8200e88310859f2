"""Running the program without AWS, and checking what it would deploy.

``mocks`` plans a stack under Pulumi mocks and records every resource it would register (the budget
check prices these records; the infrastructure tests assert on them); ``baseline`` checks the recorded
resources against the security baseline. Neither is a ComponentResource: they look at the program from
outside, as the engine would.
"""
