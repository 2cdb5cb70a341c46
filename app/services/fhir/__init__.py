"""The FHIR R4 (4.0.1) interface of the ANS "Service d'Accès aux Soins" guide, under `/fhir`.

Modules, one rule each:
- `codes`: the guide's fixed systems, codes and profile URLs (one place).
- `outcome`: FHIR errors, rendered as OperationOutcome (never problem+json under /fhir).
- `dates`, `search_params`: FHIR search parameters of `GET /fhir/Slot` (flows INT_R01 and
  INT_R04): start bounds with or without an offset, 1 to 25 practitioners, includes, strict or
  lenient handling of unknown parameters.
- `slot_search`: the one statement reading the free, offered slots (`slots.rules`).
- `resources`, `bundle`: the Slot, Schedule, Practitioner, PractitionerRole (Location
  contained), HealthcareService and Organization resources, and the searchset Bundle.
- `capability`: the CapabilityStatement, which lists exactly what is implemented.
- `regulators`: regulator accounts (flow INT_R02), as regulator API clients.
- `appointment`, `appointment_sender`, `appointment_worker`: the Appointment sent to the SAS
  (flow INT_R03) from the `sas_appointments` outbox, retried, over mutual TLS if configured.
"""
