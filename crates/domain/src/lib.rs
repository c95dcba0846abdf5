//! zhulao-domain: pure domain rules and types (no I/O).
