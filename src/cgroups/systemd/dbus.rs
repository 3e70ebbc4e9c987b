//! D-Bus marshalling: the types systemd's Manager API uses (y b n q i u x t d s o g a ( ) { } v),
//! written little-endian and read in either byte order, with the specification's alignment
//! rules (every value starts at a multiple of its alignment, counted from the message's start;
//! padding is zero). Everything read is bounds-checked: a malformed or hostile peer yields an
//! error, never a panic or an unbounded allocation.

use anyhow::{bail, ensure, Result};

/// Limits from the D-Bus specification.
const MAX_ARRAY: usize = 1 << 26;
pub const MAX_SIGNATURE: usize = 255;
const MAX_NESTED_ARRAYS: usize = 32;
const MAX_NESTED_STRUCTS: usize = 32;
/// Arrays, structs and variants together; bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// A complete D-Bus type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Byte,
    Bool,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Double,
    Str,
    ObjectPath,
    Signature,
    Variant,
    Array(Box<Type>),
    Struct(Vec<Type>),
    DictEntry(Box<Type>, Box<Type>),
}

impl Type {
    fn align(&self) -> usize {
        match self {
            Type::Byte | Type::Signature | Type::Variant => 1,
            Type::I16 | Type::U16 => 2,
            Type::Bool | Type::I32 | Type::U32 | Type::Str | Type::ObjectPath | Type::Array(_) => 4,
            Type::I64 | Type::U64 | Type::Double | Type::Struct(_) | Type::DictEntry(..) => 8,
        }
    }

    fn is_basic(&self) -> bool {
        !matches!(
            self,
            Type::Variant | Type::Array(_) | Type::Struct(_) | Type::DictEntry(..)
        )
    }

    pub fn signature(&self) -> String {
        let mut s = String::new();
        self.write_signature(&mut s);
        s
    }

    fn write_signature(&self, s: &mut String) {
        let code = match self {
            Type::Byte => 'y',
            Type::Bool => 'b',
            Type::I16 => 'n',
            Type::U16 => 'q',
            Type::I32 => 'i',
            Type::U32 => 'u',
            Type::I64 => 'x',
            Type::U64 => 't',
            Type::Double => 'd',
            Type::Str => 's',
            Type::ObjectPath => 'o',
            Type::Signature => 'g',
            Type::Variant => 'v',
            Type::Array(t) => {
                s.push('a');
                return t.write_signature(s);
            }
            Type::Struct(fields) => {
                s.push('(');
                fields.iter().for_each(|f| f.write_signature(s));
                s.push(')');
                return;
            }
            Type::DictEntry(k, v) => {
                s.push('{');
                k.write_signature(s);
                v.write_signature(s);
                s.push('}');
                return;
            }
        };
        s.push(code);
    }
}

/// The complete types a signature lists, in order.
pub fn parse_signature(sig: &str) -> Result<Vec<Type>> {
    ensure!(
        sig.len() <= MAX_SIGNATURE,
        "signature longer than {MAX_SIGNATURE} bytes"
    );
    let b = sig.as_bytes();
    let mut pos = 0;
    let mut types = Vec::new();
    while pos < b.len() {
        types.push(
            parse_one(b, &mut pos, 0, 0).map_err(|e| e.context(format!("signature {sig:?}")))?,
        );
    }
    Ok(types)
}

fn parse_one(b: &[u8], pos: &mut usize, arrays: usize, structs: usize) -> Result<Type> {
    let Some(&c) = b.get(*pos) else {
        bail!("ends inside a container type");
    };
    *pos += 1;
    Ok(match c {
        b'y' => Type::Byte,
        b'b' => Type::Bool,
        b'n' => Type::I16,
        b'q' => Type::U16,
        b'i' => Type::I32,
        b'u' => Type::U32,
        b'x' => Type::I64,
        b't' => Type::U64,
        b'd' => Type::Double,
        b's' => Type::Str,
        b'o' => Type::ObjectPath,
        b'g' => Type::Signature,
        b'v' => Type::Variant,
        b'a' => {
            ensure!(arrays < MAX_NESTED_ARRAYS, "nests more than 32 arrays");
            if b.get(*pos) == Some(&b'{') {
                *pos += 1;
                ensure!(structs < MAX_NESTED_STRUCTS, "nests more than 32 structs");
                let k = parse_one(b, pos, arrays + 1, structs + 1)?;
                ensure!(k.is_basic(), "dict entry key must be a basic type");
                let v = parse_one(b, pos, arrays + 1, structs + 1)?;
                ensure!(
                    b.get(*pos) == Some(&b'}'),
                    "dict entry must hold exactly two types"
                );
                *pos += 1;
                Type::Array(Box::new(Type::DictEntry(Box::new(k), Box::new(v))))
            } else {
                Type::Array(Box::new(parse_one(b, pos, arrays + 1, structs)?))
            }
        }
        b'(' => {
            ensure!(structs < MAX_NESTED_STRUCTS, "nests more than 32 structs");
            let mut fields = Vec::new();
            while b.get(*pos) != Some(&b')') {
                fields.push(parse_one(b, pos, arrays, structs + 1)?);
            }
            *pos += 1;
            ensure!(!fields.is_empty(), "empty struct");
            Type::Struct(fields)
        }
        c => bail!("invalid type code {:?}", c as char),
    })
}

/// A D-Bus value. An array carries its element type so that an empty one still has a signature.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    Variant(Box<Value>),
    Array(Type, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
}

impl Value {
    pub fn typ(&self) -> Type {
        match self {
            Value::Byte(_) => Type::Byte,
            Value::Bool(_) => Type::Bool,
            Value::I16(_) => Type::I16,
            Value::U16(_) => Type::U16,
            Value::I32(_) => Type::I32,
            Value::U32(_) => Type::U32,
            Value::I64(_) => Type::I64,
            Value::U64(_) => Type::U64,
            Value::Double(_) => Type::Double,
            Value::Str(_) => Type::Str,
            Value::ObjectPath(_) => Type::ObjectPath,
            Value::Signature(_) => Type::Signature,
            Value::Variant(_) => Type::Variant,
            Value::Array(t, _) => Type::Array(Box::new(t.clone())),
            Value::Struct(f) => Type::Struct(f.iter().map(Value::typ).collect()),
            Value::DictEntry(k, v) => Type::DictEntry(Box::new(k.typ()), Box::new(v.typ())),
        }
    }

    pub fn signature(&self) -> String {
        self.typ().signature()
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// The text of a string, object path or signature.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }
}

/// An object path: "/" or "/" followed by non-empty [A-Za-z0-9_] elements joined by "/".
pub fn valid_object_path(p: &str) -> bool {
    p == "/"
        || (p.starts_with('/')
            && p[1..].split('/').all(|e| {
                !e.is_empty() && e.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            }))
}

/// Writes values little-endian, aligned relative to the start of `buf`, which must be the start
/// of the message or an 8-aligned offset in it (the body).
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn pad(&mut self, align: usize) {
        let n = self.buf.len().next_multiple_of(align);
        self.buf.resize(n, 0);
    }

    pub fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) -> Result<()> {
        ensure!(!s.contains('\0'), "string {s:?} contains a NUL byte");
        let len = u32::try_from(s.len())?;
        self.u32(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn signature(&mut self, s: &str) -> Result<()> {
        parse_signature(s)?;
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    pub fn value(&mut self, v: &Value) -> Result<()> {
        self.nested(v, 0)
    }

    fn nested(&mut self, v: &Value, depth: usize) -> Result<()> {
        ensure!(
            depth <= MAX_DEPTH,
            "values nested more than {MAX_DEPTH} deep"
        );
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(n) => self.fixed(&n.to_le_bytes()),
            Value::U16(n) => self.fixed(&n.to_le_bytes()),
            Value::I32(n) => self.fixed(&n.to_le_bytes()),
            Value::U32(n) => self.fixed(&n.to_le_bytes()),
            Value::I64(n) => self.fixed(&n.to_le_bytes()),
            Value::U64(n) => self.fixed(&n.to_le_bytes()),
            Value::Double(n) => self.fixed(&n.to_le_bytes()),
            Value::Str(s) => self.string(s)?,
            Value::ObjectPath(p) => {
                ensure!(valid_object_path(p), "invalid object path {p:?}");
                self.string(p)?
            }
            Value::Signature(s) => self.signature(s)?,
            Value::Variant(inner) => {
                self.signature(&inner.signature())?;
                self.nested(inner, depth + 1)?;
            }
            Value::Array(t, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                // The padding to the first element is not counted in the length, even when empty.
                self.pad(t.align());
                let start = self.buf.len();
                for item in items {
                    let it = item.typ();
                    ensure!(
                        it == *t,
                        "array of {} holds a {}",
                        t.signature(),
                        it.signature()
                    );
                    self.nested(item, depth + 1)?;
                }
                let len = self.buf.len() - start;
                ensure!(len <= MAX_ARRAY, "array of {len} bytes exceeds 64 MiB");
                self.buf[len_at..len_at + 4].copy_from_slice(&(len as u32).to_le_bytes());
            }
            Value::Struct(fields) => {
                ensure!(!fields.is_empty(), "empty struct");
                self.pad(8);
                for f in fields {
                    self.nested(f, depth + 1)?;
                }
            }
            Value::DictEntry(k, val) => {
                ensure!(k.typ().is_basic(), "dict entry key must be a basic type");
                self.pad(8);
                self.nested(k, depth + 1)?;
                self.nested(val, depth + 1)?;
            }
        }
        Ok(())
    }

    /// A fixed-size number, aligned to its own size.
    fn fixed(&mut self, bytes: &[u8]) {
        self.pad(bytes.len());
        self.buf.extend_from_slice(bytes);
    }
}

/// Reads values in the message's byte order; positions are relative to the start of `buf`, which
/// is the whole message or its (8-aligned) body.
pub struct Decoder<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub big_endian: bool,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Self {
        Decoder {
            buf,
            pos: 0,
            big_endian,
        }
    }

    pub fn pad(&mut self, align: usize) -> Result<()> {
        let next = self.pos.next_multiple_of(align);
        let pad = self.take(next - self.pos)?;
        ensure!(
            pad.iter().all(|b| *b == 0),
            "non-zero padding at offset {}",
            next - pad.len()
        );
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        ensure!(
            n <= self.buf.len() - self.pos,
            "truncated: {n} bytes wanted at offset {} of {}",
            self.pos,
            self.buf.len()
        );
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.pad(N)?;
        let mut b: [u8; N] = self.take(N)?.try_into()?;
        // Values are built from little-endian bytes below; a big-endian peer's are reversed.
        if self.big_endian {
            b.reverse();
        }
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len)?;
        ensure!(self.take(1)? == [0], "string is not NUL-terminated");
        ensure!(!bytes.contains(&0), "string contains a NUL byte");
        Ok(String::from_utf8(bytes.to_vec())?)
    }

    pub fn value(&mut self, t: &Type) -> Result<Value> {
        self.nested(t, 0)
    }

    fn nested(&mut self, t: &Type, depth: usize) -> Result<Value> {
        ensure!(
            depth <= MAX_DEPTH,
            "values nested more than {MAX_DEPTH} deep"
        );
        Ok(match t {
            Type::Byte => Value::Byte(self.u8()?),
            Type::Bool => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => bail!("boolean of value {n}"),
            },
            Type::I16 => Value::I16(i16::from_le_bytes(self.fixed()?)),
            Type::U16 => Value::U16(u16::from_le_bytes(self.fixed()?)),
            Type::I32 => Value::I32(i32::from_le_bytes(self.fixed()?)),
            Type::U32 => Value::U32(self.u32()?),
            Type::I64 => Value::I64(i64::from_le_bytes(self.fixed()?)),
            Type::U64 => Value::U64(u64::from_le_bytes(self.fixed()?)),
            Type::Double => Value::Double(f64::from_le_bytes(self.fixed()?)),
            Type::Str => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            Type::ObjectPath => {
                let len = self.u32()? as usize;
                let p = self.text(len)?;
                ensure!(valid_object_path(&p), "invalid object path {p:?}");
                Value::ObjectPath(p)
            }
            Type::Signature => Value::Signature(self.signature()?),
            Type::Variant => {
                let sig = self.signature()?;
                let types = parse_signature(&sig)?;
                let [inner] = &types[..] else {
                    bail!("variant signature {sig:?} is not one complete type");
                };
                Value::Variant(Box::new(self.nested(inner, depth + 1)?))
            }
            Type::Array(elem) => {
                let len = self.u32()? as usize;
                ensure!(len <= MAX_ARRAY, "array of {len} bytes exceeds 64 MiB");
                self.pad(elem.align())?;
                ensure!(
                    len <= self.buf.len() - self.pos,
                    "array of {len} bytes at offset {} overruns the message",
                    self.pos
                );
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.nested(elem, depth + 1)?);
                }
                ensure!(self.pos == end, "array element overruns the array's length");
                Value::Array((**elem).clone(), items)
            }
            Type::Struct(fields) => {
                self.pad(8)?;
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    out.push(self.nested(f, depth + 1)?);
                }
                Value::Struct(out)
            }
            Type::DictEntry(k, v) => {
                self.pad(8)?;
                let k = self.nested(k, depth + 1)?;
                let v = self.nested(v, depth + 1)?;
                Value::DictEntry(Box::new(k), Box::new(v))
            }
        })
    }

    fn signature(&mut self) -> Result<String> {
        let len = self.u8()? as usize;
        let s = self.text(len)?;
        parse_signature(&s)?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
