//! D-Bus messages: the fixed header (byte order, type, flags, version, body length, serial), the
//! header fields array a(yv), padding to 8, then the body. Method calls, returns, errors and
//! signals; the header fields each type requires are checked both ways.

use super::dbus::{
    parse_signature, valid_object_path, Decoder, Encoder, Type, Value, MAX_SIGNATURE,
};
use anyhow::{bail, ensure, Result};

const MAX_MESSAGE: usize = 1 << 27;
/// The fixed part of the header, through the header fields array's length.
pub const FIXED_HEADER: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    /// Set by the connection when sent.
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

/// An error reply, as a Rust error that callers can match by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbusError {
    pub name: String,
    pub message: String,
}

impl std::fmt::Display for DbusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl std::error::Error for DbusError {}

/// Header field codes.
const PATH: u8 = 1;
const INTERFACE: u8 = 2;
const MEMBER: u8 = 3;
const ERROR_NAME: u8 = 4;
const REPLY_SERIAL: u8 = 5;
const DESTINATION: u8 = 6;
const SENDER: u8 = 7;
const SIGNATURE: u8 = 8;

fn fields_type() -> Type {
    Type::Array(Box::new(Type::Struct(vec![Type::Byte, Type::Variant])))
}

impl Message {
    fn new(kind: Kind, body: Vec<Value>) -> Message {
        Message {
            kind,
            flags: 0,
            serial: 0,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body,
        }
    }

    pub fn method_call(
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Message {
        Message {
            destination: Some(destination.into()),
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            ..Message::new(Kind::MethodCall, body)
        }
    }

    #[cfg(test)]
    pub fn signal(path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            ..Message::new(Kind::Signal, body)
        }
    }

    #[cfg(test)]
    pub fn method_return(call: &Message, body: Vec<Value>) -> Message {
        Message {
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            ..Message::new(Kind::MethodReturn, body)
        }
    }

    #[cfg(test)]
    pub fn error(call: &Message, name: &str, text: &str) -> Message {
        Message {
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            error_name: Some(name.into()),
            ..Message::new(Kind::Error, vec![Value::Str(text.into())])
        }
    }

    /// An error reply as a Rust error: its name and, if the body starts with one, its text.
    pub fn to_error(&self) -> DbusError {
        DbusError {
            name: self.error_name.clone().unwrap_or_default(),
            message: self
                .body
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }
    }

    fn check_fields(&self) -> Result<()> {
        let need: &[(&str, bool)] = match self.kind {
            Kind::MethodCall => &[
                ("path", self.path.is_some()),
                ("member", self.member.is_some()),
            ],
            Kind::Signal => &[
                ("path", self.path.is_some()),
                ("interface", self.interface.is_some()),
                ("member", self.member.is_some()),
            ],
            Kind::Error => &[
                ("error name", self.error_name.is_some()),
                ("reply serial", self.reply_serial.is_some()),
            ],
            Kind::MethodReturn => &[("reply serial", self.reply_serial.is_some())],
        };
        if let Some((field, _)) = need.iter().find(|(_, present)| !present) {
            bail!("{:?} message without its {field} header field", self.kind);
        }
        if let Some(p) = &self.path {
            ensure!(valid_object_path(p), "invalid object path {p:?}");
        }
        Ok(())
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        self.check_fields()?;
        ensure!(self.serial != 0, "message serial 0");
        let mut body = Encoder::default();
        let mut sig = String::new();
        for v in &self.body {
            body.value(v)?;
            sig.push_str(&v.signature());
        }
        ensure!(
            sig.len() <= MAX_SIGNATURE,
            "body signature longer than 255 bytes"
        );

        let str_field =
            |code: u8, v: &Option<String>| v.as_ref().map(|s| (code, Value::Str(s.clone())));
        let fields: Vec<Value> = [
            self.path
                .as_ref()
                .map(|p| (PATH, Value::ObjectPath(p.clone()))),
            str_field(INTERFACE, &self.interface),
            str_field(MEMBER, &self.member),
            str_field(ERROR_NAME, &self.error_name),
            self.reply_serial.map(|s| (REPLY_SERIAL, Value::U32(s))),
            str_field(DESTINATION, &self.destination),
            str_field(SENDER, &self.sender),
            (!sig.is_empty()).then_some((SIGNATURE, Value::Signature(sig))),
        ]
        .into_iter()
        .flatten()
        .map(|(code, v)| Value::Struct(vec![Value::Byte(code), Value::variant(v)]))
        .collect();

        let mut h = Encoder::default();
        h.buf
            .extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        h.u32(u32::try_from(body.buf.len())?);
        h.u32(self.serial);
        let Type::Array(elem) = fields_type() else {
            unreachable!()
        };
        h.value(&Value::Array(*elem, fields))?;
        h.pad(8);
        h.buf.extend_from_slice(&body.buf);
        ensure!(
            h.buf.len() <= MAX_MESSAGE,
            "message of {} bytes exceeds 128 MiB",
            h.buf.len()
        );
        Ok(h.buf)
    }

    pub fn decode(buf: &[u8]) -> Result<Message> {
        let head: &[u8; FIXED_HEADER] = buf
            .get(..FIXED_HEADER)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                anyhow::anyhow!("message shorter than its {FIXED_HEADER}-byte header")
            })?;
        let len = frame_len(head)?;
        ensure!(
            buf.len() == len,
            "message is {} bytes, its header says {len}",
            buf.len()
        );
        let big = buf[0] == b'B';
        let mut d = Decoder::new(buf, big);
        d.pos = 1;
        let kind = match d.u8()? {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            t => bail!("unknown message type {t}"),
        };
        let flags = d.u8()?;
        ensure!(d.u8()? == 1, "unsupported protocol version");
        let body_len = d.u32()? as usize;
        let serial = d.u32()?;
        ensure!(serial != 0, "message serial 0");
        let mut m = Message {
            flags,
            serial,
            ..Message::new(kind, Vec::new())
        };
        let mut sig = String::new();
        let Value::Array(_, fields) = d.value(&fields_type())? else {
            unreachable!()
        };
        for f in fields {
            let Value::Struct(f) = f else { unreachable!() };
            let (Value::Byte(code), Value::Variant(v)) = (&f[0], &f[1]) else {
                unreachable!()
            };
            let text = || {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("header field {code} of type {}", v.signature()))
            };
            match (*code, &**v) {
                (PATH, Value::ObjectPath(p)) => m.path = Some(p.clone()),
                (INTERFACE, Value::Str(_)) => m.interface = Some(text()?),
                (MEMBER, Value::Str(_)) => m.member = Some(text()?),
                (ERROR_NAME, Value::Str(_)) => m.error_name = Some(text()?),
                (REPLY_SERIAL, Value::U32(s)) => m.reply_serial = Some(*s),
                (DESTINATION, Value::Str(_)) => m.destination = Some(text()?),
                (SENDER, Value::Str(_)) => m.sender = Some(text()?),
                (SIGNATURE, Value::Signature(s)) => sig = s.clone(),
                (PATH..=SIGNATURE, v) => {
                    bail!("header field {code} of type {}", v.signature())
                }
                // Unknown fields (and UNIX_FDS, never negotiated) are ignored, as the spec says.
                _ => {}
            }
        }
        d.pad(8)?;
        let body = &buf[d.pos..];
        ensure!(body.len() == body_len, "body length mismatch");
        // The body starts 8-aligned, so alignment relative to it equals that to the message.
        let mut bd = Decoder::new(body, big);
        for t in parse_signature(&sig)? {
            m.body.push(bd.value(&t)?);
        }
        ensure!(
            bd.pos == body.len(),
            "{} bytes after the body's values",
            body.len() - bd.pos
        );
        m.check_fields()?;
        Ok(m)
    }
}

/// The whole message's length, from its fixed header; refuses more than the spec's 128 MiB.
pub fn frame_len(head: &[u8; FIXED_HEADER]) -> Result<usize> {
    let big = match head[0] {
        b'l' => false,
        b'B' => true,
        b => bail!("invalid byte-order mark {b:#04x}"),
    };
    let word = |at: usize| {
        let b: [u8; 4] = head[at..at + 4].try_into().unwrap();
        (if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }) as usize
    };
    let (body, fields) = (word(4), word(12));
    let len = (FIXED_HEADER + fields).next_multiple_of(8) + body;
    ensure!(len <= MAX_MESSAGE, "message of {len} bytes exceeds 128 MiB");
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_byte_exact() {
        let mut m = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            vec![],
        );
        m.serial = 1;
        let mut want = vec![b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 109, 0, 0, 0];
        // (PATH, o "/org/freedesktop/DBus"): 4 + 4 + 21 + NUL = 30, padded to 32.
        want.extend_from_slice(&[1, 1, b'o', 0, 21, 0, 0, 0]);
        want.extend_from_slice(b"/org/freedesktop/DBus\0\0\0");
        // (INTERFACE, s "org.freedesktop.DBus"): 4 + 4 + 20 + NUL = 29, padded to 32.
        want.extend_from_slice(&[2, 1, b's', 0, 20, 0, 0, 0]);
        want.extend_from_slice(b"org.freedesktop.DBus\0\0\0\0");
        // (MEMBER, s "Hello"): 14, padded to 16.
        want.extend_from_slice(&[3, 1, b's', 0, 5, 0, 0, 0]);
        want.extend_from_slice(b"Hello\0\0\0");
        // (DESTINATION, s ...): 29 bytes, the last field: the array is 32+32+16+29 = 109 bytes.
        want.extend_from_slice(&[6, 1, b's', 0, 20, 0, 0, 0]);
        want.extend_from_slice(b"org.freedesktop.DBus\0");
        // The header is padded to 8; no body.
        want.extend_from_slice(&[0, 0, 0]);
        assert_eq!(m.encode().unwrap(), want);
        assert_eq!(Message::decode(&want).unwrap(), m);
    }

    #[test]
    fn replies_errors_and_signals_round_trip() {
        let mut call = Message::method_call("d.e", "/a", "i.f", "M", vec![Value::Str("x".into())]);
        call.serial = 7;
        call.sender = Some(":1.5".into());
        let mut ret = Message::method_return(&call, vec![Value::ObjectPath("/j/1".into())]);
        ret.serial = 9;
        let mut err = Message::error(
            &call,
            "org.freedesktop.systemd1.NoSuchUnit",
            "Unit x not loaded.",
        );
        err.serial = 10;
        let mut sig = Message::signal(
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
            vec![
                Value::U32(1),
                Value::ObjectPath("/j/1".into()),
                Value::Str("u.scope".into()),
                Value::Str("done".into()),
            ],
        );
        sig.serial = 11;
        for m in [&call, &ret, &err, &sig] {
            assert_eq!(&Message::decode(&m.encode().unwrap()).unwrap(), m);
        }
        assert_eq!(ret.reply_serial, Some(7));
        assert_eq!(ret.destination.as_deref(), Some(":1.5"));
        assert_eq!(
            err.to_error().to_string(),
            "org.freedesktop.systemd1.NoSuchUnit: Unit x not loaded."
        );
    }

    #[test]
    fn header_fields_are_parsed_and_checked() {
        let mut m = Message::signal("/p", "i.f", "S", vec![]);
        m.serial = 3;
        m.sender = Some(":1.1".into());
        let bytes = m.encode().unwrap();
        let d = Message::decode(&bytes).unwrap();
        assert_eq!(d.kind, Kind::Signal);
        assert_eq!(d.sender.as_deref(), Some(":1.1"));
        assert_eq!(
            (d.path.as_deref(), d.member.as_deref()),
            (Some("/p"), Some("S"))
        );

        // A signal without an interface, an error without a reply serial: refused both ways.
        let mut bad = m.clone();
        bad.interface = None;
        assert!(bad.encode().is_err());
        let mut bad = Message::new(Kind::Error, vec![]);
        bad.serial = 1;
        bad.error_name = Some("e.E".into());
        assert!(bad.encode().is_err());

        // Big-endian, with an unknown field (code 42) that must be skipped: the fields array is
        // 8 + 5 = 13 bytes, then 3 bytes pad the header to 32.
        let mut be = vec![b'B', 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 13];
        be.extend_from_slice(&[5, 1, b'u', 0, 0, 0, 0, 9]); // REPLY_SERIAL = 9
        be.extend_from_slice(&[42, 1, b'y', 0, 7, 0, 0, 0]);
        let d = Message::decode(&be).unwrap();
        assert_eq!(
            (d.kind, d.reply_serial, d.serial),
            (Kind::MethodReturn, Some(9), 5)
        );
    }

    #[test]
    fn malformed_messages_are_rejected_without_panic() {
        let mut m = Message::method_call("d.e", "/a", "i.f", "M", vec![Value::U64(1)]);
        m.serial = 1;
        let good = m.encode().unwrap();
        let reject = |b: &[u8]| Message::decode(b).is_err();
        assert!(reject(&good[..good.len() - 1]));
        for i in 0..good.len() {
            for x in [0u8, 1, 0x7f, 0xff] {
                let mut b = good.clone();
                b[i] = x;
                let _ = Message::decode(&b); // must not panic
            }
        }
        let mut b = good.clone();
        b[0] = b'x';
        assert!(reject(&b));
        b = good.clone();
        b[3] = 2; // protocol version
        assert!(reject(&b));
        b = good.clone();
        b[1] = 9; // message type
        assert!(reject(&b));
        b = good.clone();
        b[8..12].copy_from_slice(&[0; 4]); // serial 0
        assert!(reject(&b));
        // A header claiming 4 GiB of fields is refused before anything is read.
        let head: [u8; 16] = [
            b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(frame_len(&head).is_err());
        assert!(reject(&head));
    }
}
