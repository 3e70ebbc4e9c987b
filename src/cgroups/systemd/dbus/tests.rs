//! Marshalling: round trips, byte-exact encodings, alignment, and malformed input.

use super::*;

fn encode(v: &Value) -> Vec<u8> {
    let mut e = Encoder::default();
    e.value(v).unwrap();
    e.buf
}

fn decode(buf: &[u8], sig: &str) -> Result<Value> {
    let t = parse_signature(sig)?.remove(0);
    let mut d = Decoder::new(buf, false);
    let v = d.value(&t)?;
    ensure!(d.pos == buf.len(), "trailing bytes");
    Ok(v)
}

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

#[test]
fn signatures_parse_and_print() {
    for sig in [
        "y",
        "a(sv)",
        "a{sa(ii)}",
        "(ybnqiuxtdsogv)",
        "aay",
        "a(sa(sv))",
    ] {
        let t = parse_signature(sig).unwrap();
        assert_eq!(t.len(), 1, "{sig}");
        assert_eq!(t[0].signature(), sig);
    }
    assert_eq!(parse_signature("ssa(sv)a(sa(sv))").unwrap().len(), 4);
    assert_eq!(parse_signature("").unwrap(), vec![]);
    for bad in [
        "(", ")", "()", "a", "{sv}", "a{vs}", "a{sss}", "z", "(s", "a{s}",
    ] {
        assert!(parse_signature(bad).is_err(), "{bad}");
    }
    let deep = "a".repeat(33) + "y";
    assert!(parse_signature(&deep).is_err());
    assert!(parse_signature(&"a".repeat(32)).is_err());
    assert!(parse_signature(&"y".repeat(256)).is_err());
}

#[test]
fn every_type_round_trips() {
    let v = Value::Struct(vec![
        Value::Byte(7),
        Value::Bool(true),
        Value::I16(-2),
        Value::U16(3),
        Value::I32(-4),
        Value::U32(5),
        Value::I64(-6),
        Value::U64(u64::MAX),
        Value::Double(1.5),
        s("héllo"),
        Value::ObjectPath("/org/freedesktop/systemd1/job/42".into()),
        Value::Signature("a(sv)".into()),
        Value::variant(Value::Array(Type::U32, vec![Value::U32(1), Value::U32(2)])),
        Value::Array(
            Type::DictEntry(Box::new(Type::Str), Box::new(Type::Variant)),
            vec![Value::DictEntry(
                Box::new(s("k")),
                Box::new(Value::variant(Value::Bool(false))),
            )],
        ),
        Value::Array(Type::U64, vec![]),
    ]);
    let sig = v.signature();
    assert_eq!(sig, "(ybnqiuxtdsogva{sv}at)");
    assert_eq!(decode(&encode(&v), &sig).unwrap(), v);
}

#[test]
fn start_transient_unit_body_is_byte_exact() {
    let prop = |name: &str, v: Value| Value::Struct(vec![s(name), Value::variant(v)]);
    let sv = Type::Struct(vec![Type::Str, Type::Variant]);
    let body = [
        s("a.scope"),
        s("replace"),
        Value::Array(
            sv.clone(),
            vec![
                prop("PIDs", Value::Array(Type::U32, vec![Value::U32(7)])),
                prop("Delegate", Value::Bool(true)),
                prop("CPUQuotaPerSecUSec", Value::U64(1)),
                prop("Slice", s("x.slice")),
            ],
        ),
        Value::Array(
            Type::Struct(vec![Type::Str, Type::Array(Box::new(sv))]),
            vec![],
        ),
    ];
    let mut want: Vec<u8> = Vec::new();
    want.extend_from_slice(b"\x07\0\0\0a.scope\0"); // 0..12
    want.extend_from_slice(b"\x07\0\0\0replace\0"); // 12..24
    want.extend_from_slice(&[116, 0, 0, 0, 0, 0, 0, 0]); // a(sv) length, pad to 32
    want.extend_from_slice(b"\x04\0\0\0PIDs\0"); // 32..41
    want.extend_from_slice(b"\x02au\0\0\0\0"); // variant "au" 41..45, pad to 48
    want.extend_from_slice(&[4, 0, 0, 0, 7, 0, 0, 0]); // [7] 48..56
    want.extend_from_slice(b"\x08\0\0\0Delegate\0"); // 56..69
    want.extend_from_slice(b"\x01b\0"); // 69..72
    want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // true 72..76, pad to 80
    want.extend_from_slice(b"\x12\0\0\0CPUQuotaPerSecUSec\0"); // 80..103
    want.extend_from_slice(b"\x01t\0\0\0\0\0\0\0"); // 103..106, pad to 112
    want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // 112..120
    want.extend_from_slice(b"\x05\0\0\0Slice\0"); // 120..130
    want.extend_from_slice(b"\x01s\0\0\0\0"); // 130..133, pad to 136
    want.extend_from_slice(b"\x07\0\0\0x.slice\0"); // 136..148: the array is 148-32 = 116
    want.extend_from_slice(&[0, 0, 0, 0]); // empty a(sa(sv)): 152 is 8-aligned, no padding
    let mut e = Encoder::default();
    for v in &body {
        e.value(v).unwrap();
    }
    assert_eq!(e.buf, want);
    let sig: String = body.iter().map(Value::signature).collect();
    assert_eq!(sig, "ssa(sv)a(sa(sv))");
    let mut d = Decoder::new(&want, false);
    for (t, v) in parse_signature(&sig).unwrap().iter().zip(&body) {
        assert_eq!(&d.value(t).unwrap(), v);
    }
    assert_eq!(d.pos, want.len());
}

#[test]
fn alignment_edge_cases() {
    // y then t: seven bytes of padding before the u64.
    let v = Value::Struct(vec![Value::Byte(1), Value::U64(2)]);
    assert_eq!(encode(&v), [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    // An empty array of u64 still pads to 8 after its length, and the padding is not counted.
    let v = Value::Array(Type::U64, vec![]);
    assert_eq!(encode(&v), [0, 0, 0, 0, 0, 0, 0, 0]);
    // ...but an empty array of u32 needs none.
    assert_eq!(encode(&Value::Array(Type::U32, vec![])), [0, 0, 0, 0]);
    // Array of structs: the length counts from the first (8-aligned) element.
    let v = Value::Array(
        Type::Struct(vec![Type::Byte]),
        vec![
            Value::Struct(vec![Value::Byte(1)]),
            Value::Struct(vec![Value::Byte(2)]),
        ],
    );
    assert_eq!(
        encode(&v),
        [9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    );
    // A variant's value aligns to its own type, after the signature.
    let v = Value::variant(Value::U32(1));
    assert_eq!(encode(&v), [1, b'u', 0, 0, 1, 0, 0, 0]);
    // Big-endian input reads the same.
    let mut d = Decoder::new(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], true);
    assert_eq!(d.value(&Type::U32).unwrap(), Value::U32(1));
    assert_eq!(d.value(&Type::U64).unwrap(), Value::U64(2));
}

#[test]
fn malformed_input_is_an_error() {
    // Truncated string, missing NUL, bad bool, non-zero padding, overlong array.
    assert!(decode(&[5, 0, 0, 0, b'a'], "s").is_err());
    assert!(decode(&[1, 0, 0, 0, b'a', b'b'], "s").is_err());
    assert!(decode(&[2, 0, 0, 0], "b").is_err());
    assert!(decode(&[1, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], "(yt)").is_err());
    assert!(decode(&[0xff, 0xff, 0xff, 0x0f], "ay").is_err());
    assert!(decode(&[3, 0, 0, 0, 1, 0, 0, 0], "au").is_err());
    assert!(decode(&[2, b'u', b'u', 0, 0, 0, 0, 0, 0, 0, 0, 0], "v").is_err());
    assert!(decode(&[1, 0, 0, 0, b'x', 0], "o").is_err());
    assert!(decode(&[2, 0, 0, 0, 0xc3, 0x28, 0], "s").is_err());
    // Variants nested past the limit are refused rather than recursed into.
    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend_from_slice(&[1, b'v', 0]);
    }
    assert!(decode(&deep, "v").is_err());
    // Every prefix of a valid encoding fails cleanly.
    let v = Value::Array(
        Type::Struct(vec![Type::Str, Type::Variant]),
        vec![Value::Struct(vec![
            s("PIDs"),
            Value::variant(Value::Array(Type::U32, vec![Value::U32(1)])),
        ])],
    );
    let buf = encode(&v);
    for n in 0..buf.len() {
        assert!(decode(&buf[..n], "a(sv)").is_err(), "prefix {n}");
    }
}

#[test]
fn encoder_refuses_what_it_cannot_write() {
    let mut e = Encoder::default();
    assert!(e.value(&s("a\0b")).is_err());
    assert!(e.value(&Value::ObjectPath("no/slash".into())).is_err());
    assert!(e.value(&Value::ObjectPath("/a//b".into())).is_err());
    assert!(e.value(&Value::Array(Type::U32, vec![s("x")])).is_err());
    assert!(e.value(&Value::Struct(vec![])).is_err());
    assert!(e.value(&Value::Signature("(".into())).is_err());
    assert!(valid_object_path("/"));
    assert!(valid_object_path(
        "/org/freedesktop/systemd1/unit/rt_2dc1_2escope"
    ));
    assert!(!valid_object_path("/a/"));
}
