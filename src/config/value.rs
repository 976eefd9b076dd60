//! Parameter values and their parsing, following the configobj/validate rules stpipe uses:
//! booleans accept true/false, yes/no, on/off, 1/0 (any case); `None` means "not set".

use std::fmt;

/// The declared type of a parameter (its configobj spec function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Float,
    Str,
    /// `option(...)`: one of a fixed list of strings.
    Choice(&'static [&'static str]),
}

/// A parsed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// Parse `text` as a value of `kind`; `None` (any case) is accepted for every kind.
    pub fn parse(kind: Kind, text: &str) -> Result<Value, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(Value::None);
        }
        match kind {
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("{t:?} is not a boolean (true/false)")),
            },
            Kind::Int => t
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("{t:?} is not an integer")),
            Kind::Float => match t.parse::<f64>() {
                Ok(v) => Ok(Value::Float(v)),
                Err(_) => Err(format!("{t:?} is not a number")),
            },
            Kind::Str => Ok(Value::Str(strip_quotes(t).to_string())),
            Kind::Choice(options) => {
                let s = strip_quotes(t);
                if options.contains(&s) {
                    Ok(Value::Str(s.to_string()))
                } else {
                    Err(format!("{s:?} is not one of {options:?}"))
                }
            }
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
}

fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => write!(f, "None"),
            Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_configobj() {
        assert_eq!(Value::parse(Kind::Bool, "True").unwrap(), Value::Bool(true));
        assert_eq!(Value::parse(Kind::Bool, "no").unwrap(), Value::Bool(false));
        assert!(Value::parse(Kind::Bool, "maybe").is_err());
        assert_eq!(Value::parse(Kind::Float, "6").unwrap(), Value::Float(6.0));
        assert_eq!(Value::parse(Kind::Int, "None").unwrap(), Value::None);
        assert!(Value::parse(Kind::Int, "2.5").is_err());
        assert_eq!(
            Value::parse(Kind::Str, "'half'").unwrap(),
            Value::Str("half".into())
        );
        assert!(Value::parse(Kind::Choice(&["OLS_C", "LIKELY"]), "OLS").is_err());
    }
}
