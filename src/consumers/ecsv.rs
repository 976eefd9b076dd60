//! ECSV 1.0 tables as astropy writes a `QTable` of float64 columns (`format="ascii.ecsv"`):
//! a YAML header with the column datatypes and units, the table meta as an ordered map, the
//! `__serialized_columns__` block that makes `QTable.read` return Quantities, then one
//! space-separated row per line with Python's shortest round-trip float formatting.
//! Also the reader the tests and `sloper tso3` use on such tables.

use std::fmt::Write as _;
use std::path::Path;

/// One float64 column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub unit: Option<String>,
    pub values: Vec<f64>,
}

impl Column {
    pub fn new(name: &str, unit: Option<&str>, values: Vec<f64>) -> Column {
        Column {
            name: name.to_string(),
            unit: unit.map(str::to_string),
            values,
        }
    }
}

/// A table: columns of equal length and an ordered meta map of scalar values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    /// (key, YAML scalar already formatted, e.g. `NIRCAM`, `28`, or a quoted string).
    pub meta: Vec<(String, String)>,
}

/// Python's `repr(float)`: shortest round-trip digits; scientific when the decimal exponent is
/// below −4 or at least 16; `nan`, `inf`.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let e = format!("{v:e}"); // e.g. "-9.473892415555899e-5"
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            if n > exp + 1 {
                format!(
                    "{}.{}",
                    &digits[..(exp + 1) as usize],
                    &digits[(exp + 1) as usize..]
                )
            } else {
                format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        let es = if exp < 0 { "-" } else { "+" };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

/// YAML scalar for a meta string value (plain when safe, else single-quoted).
pub fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`',
        ])
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains(['{', '}', '[', ']', ','])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        );
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

impl Table {
    /// The ECSV text.
    pub fn to_ecsv(&self) -> String {
        let mut s = String::from("# %ECSV 1.0\n# ---\n# datatype:\n");
        for c in &self.columns {
            match &c.unit {
                Some(u) => {
                    let _ = writeln!(
                        s,
                        "# - {{name: {}, unit: {}, datatype: float64}}",
                        c.name, u
                    );
                }
                None => {
                    let _ = writeln!(s, "# - {{name: {}, datatype: float64}}", c.name);
                }
            }
        }
        let with_units: Vec<&Column> = {
            let mut v: Vec<&Column> = self.columns.iter().filter(|c| c.unit.is_some()).collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        };
        if !self.meta.is_empty() || !with_units.is_empty() {
            s += "# meta: !!omap\n";
            for (k, v) in &self.meta {
                let _ = writeln!(s, "# - {{{k}: {v}}}");
            }
            if !with_units.is_empty() {
                s += "# - __serialized_columns__:\n";
                let mut anchors: Vec<(String, usize)> = Vec::new();
                for c in with_units {
                    let u = c.unit.clone().unwrap_or_default();
                    let unit = match anchors.iter().find(|(n, _)| *n == u) {
                        Some((_, id)) => format!("*id{id:03}"),
                        None => {
                            let id = anchors.len() + 1;
                            anchors.push((u.clone(), id));
                            format!("&id{id:03} !astropy.units.Unit {{unit: {u}}}")
                        }
                    };
                    let _ = write!(
                        s,
                        "#     {n}:\n#       __class__: astropy.units.quantity.Quantity\n#       unit: {unit}\n#       value: !astropy.table.SerializedColumn {{name: {n}}}\n",
                        n = c.name
                    );
                }
            }
        }
        s += "# schema: astropy-2.0\n";
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        s += &names.join(" ");
        s.push('\n');
        let n = self.columns.first().map_or(0, |c| c.values.len());
        for i in 0..n {
            let row: Vec<String> = self.columns.iter().map(|c| py_float(c.values[i])).collect();
            s += &row.join(" ");
            s.push('\n');
        }
        s
    }

    /// Write atomically (temporary name + rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("ecsv.sloper-tmp");
        std::fs::write(&tmp, self.to_ecsv())?;
        std::fs::rename(&tmp, path)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the rows of `other` (same columns, in order): astropy `vstack`.
    pub fn vstack(&mut self, other: &Table) -> Result<(), String> {
        if self.columns.is_empty() {
            *self = other.clone();
            return Ok(());
        }
        let a: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let b: Vec<&str> = other.columns.iter().map(|c| c.name.as_str()).collect();
        if a != b {
            return Err(format!("cannot stack tables with columns {a:?} and {b:?}"));
        }
        for (c, o) in self.columns.iter_mut().zip(&other.columns) {
            c.values.extend_from_slice(&o.values);
        }
        Ok(())
    }

    /// Parse an ECSV file with float columns (the subset written above, or by astropy).
    pub fn read(path: &Path) -> Result<Table, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Table::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Table, String> {
        let mut cols: Vec<Column> = Vec::new();
        let mut meta = Vec::new();
        let mut in_meta = false;
        let mut body = Vec::new();
        for line in text.lines() {
            if let Some(h) = line.strip_prefix('#') {
                let h = h.trim_end();
                if h.starts_with(" meta:") {
                    in_meta = true;
                    continue;
                }
                if h.starts_with(" datatype:") || h.starts_with(" schema:") {
                    in_meta = false;
                    continue;
                }
                if let Some(item) = h.strip_prefix(" - {") {
                    let item = item.trim_end_matches('}');
                    if in_meta {
                        if let Some((k, v)) = item.split_once(": ") {
                            meta.push((k.to_string(), v.to_string()));
                        }
                    } else {
                        let mut name = None;
                        let mut unit = None;
                        for field in item.split(", ") {
                            if let Some(v) = field.strip_prefix("name: ") {
                                name = Some(v.to_string());
                            } else if let Some(v) = field.strip_prefix("unit: ") {
                                unit = Some(v.to_string());
                            }
                        }
                        if let Some(n) = name {
                            cols.push(Column {
                                name: n,
                                unit,
                                values: Vec::new(),
                            });
                        }
                    }
                }
                continue;
            }
            if !line.trim().is_empty() {
                body.push(line);
            }
        }
        let mut lines = body.into_iter();
        let header = lines.next().ok_or("no column header line")?;
        let names: Vec<&str> = header.split_whitespace().collect();
        if names.len() != cols.len() || names.iter().zip(&cols).any(|(a, c)| *a != c.name) {
            return Err(format!("column line {names:?} does not match the header"));
        }
        for (i, l) in lines.enumerate() {
            let vals: Vec<&str> = l.split_whitespace().collect();
            if vals.len() != cols.len() {
                return Err(format!(
                    "row {i} has {} values, expected {}",
                    vals.len(),
                    cols.len()
                ));
            }
            for (c, v) in cols.iter_mut().zip(vals) {
                let x = match v {
                    "nan" | "NaN" | "\"\"" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    _ => v
                        .parse::<f64>()
                        .map_err(|_| format!("row {i}: {v:?} is not a number"))?,
                };
                c.values.push(x);
            }
        }
        Ok(Table {
            columns: cols,
            meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(9.473892415555899e-05), "9.473892415555899e-05");
        assert_eq!(py_float(60370.000000625005), "60370.000000625005");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(123.0), "123.0");
        assert_eq!(py_float(-1.5), "-1.5");
        assert_eq!(py_float(f64::NAN), "nan");
        assert_eq!(py_float(1234567890123456.0), "1234567890123456.0");
    }

    #[test]
    fn round_trip() {
        let t = Table {
            columns: vec![
                Column::new("MJD", None, vec![1.5, f64::NAN]),
                Column::new("flux", Some("Jy"), vec![2e-7, 3.0]),
            ],
            meta: vec![("instrument".into(), "NIRCAM".into())],
        };
        let s = t.to_ecsv();
        assert!(s.contains("unit: &id001 !astropy.units.Unit {unit: Jy}"));
        let back = Table::parse(&s).unwrap();
        assert_eq!(back.columns[1], t.columns[1]);
        assert!(back.columns[0].values[1].is_nan());
        assert_eq!(back.meta, t.meta);
    }
}
