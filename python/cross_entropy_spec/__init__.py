"""cross-entropy-spec for Python: the wheel puts the `cross-entropy-spec` command on PATH (the
suite, with the spec built in; no Rust toolchain needed) and ships the protocol helper that
adapters are written with:

    from cross_entropy_spec import protocol

`protocol.serve(call, describe)` runs an adapter's request loop (spec/protocol.md).
"""
