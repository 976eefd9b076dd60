//! Association files (`*_asn.json`): the Level 2 (`image2`) and Level 3 (`tso3`) inputs of the
//! official stage 2/3 pipelines.
//!
//! An association names one or more **products**, each with its input **members**
//! (`expname`, `exptype`). The rules followed here are jwst 3.0.0's:
//! - member files resolve relative to the folder of the association file
//!   (`ModelContainer`: `asn_dir / expname`; an absolute `expname` stays as is);
//! - only members whose `exptype` is `science` (case-insensitive) are calibrated
//!   (`asn_exptypes=["science"]`);
//! - a Level 3 pipeline (tso3) reads only the **first** product; its outputs are named after that
//!   product's `name` unless `--output_file` is given (`calwebb_tso3`: `output_file =
//!   products[0]["name"]`), e.g. `<name>_phot.ecsv`, `<name>_whtlt.ecsv`, `<name>_x1dints.fits`,
//!   and each member's `crfints` is `<member base>_<asn_id>_crfints.fits`;
//! - a Level 2 pipeline (image2) processes every product; each is named after the product's
//!   `name` (`<name>_cal.fits` / `<name>_calints.fits`), or after `--output_file` when there is a
//!   single product;
//! - a plain FITS input is a "singleton" association of one science member whose product name is
//!   the file name (`LoadAsLevel2Asn`).
//!
//! The consumers call:
//! ```no_run
//! use sloper::config::association::Association;
//! use sloper::pipeline::naming::{self, OutputNaming};
//! # fn main() -> Result<(), String> {
//! let asn = Association::load_or_singleton("jw01234-o001_t001_nircam_clear_tso3_asn.json".as_ref())?;
//! let product = asn.first_product()?;              // tso3: products[0]
//! for member in product.science_members() {
//!     let _input = &member.path;                    // resolved against the asn folder
//!     let _crf = naming::crfints_path("out".as_ref(), &member.path, asn.asn_id.as_deref());
//! }
//! let _phot = naming::level3_product_path("out".as_ref(), product.output_base(None), "phot", "ecsv");
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

/// One input member of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// `expname` as written in the association.
    pub expname: String,
    /// `exptype` (`science`, `background`, `psf`, …).
    pub exptype: String,
    /// `expname` resolved against the association's folder.
    pub path: PathBuf,
}

impl Member {
    pub fn is_science(&self) -> bool {
        self.exptype.eq_ignore_ascii_case("science")
    }
}

/// One output product with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// `name` (the basename of every output of this product); absent in some hand-made files.
    pub name: Option<String>,
    pub members: Vec<Member>,
}

impl Product {
    /// Members with exptype `science`, in file order.
    pub fn science_members(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.is_science())
    }

    /// The base the official pipelines name this product's outputs after: `--output_file` when
    /// given, else the product name, else the first science member's file name.
    pub fn output_base<'a>(&'a self, output_file: Option<&'a str>) -> &'a str {
        output_file
            .or(self.name.as_deref())
            .or_else(|| self.science_members().next().map(|m| m.expname.as_str()))
            .unwrap_or("step_output")
    }
}

/// A parsed association file.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    /// The association file (or the FITS file of a singleton).
    pub path: PathBuf,
    /// Folder members resolve against.
    pub dir: PathBuf,
    pub asn_type: Option<String>,
    pub asn_rule: Option<String>,
    pub asn_id: Option<String>,
    pub asn_pool: Option<String>,
    pub program: Option<String>,
    pub target: Option<String>,
    pub products: Vec<Product>,
    /// True when made from a plain exposure file rather than read from JSON.
    pub singleton: bool,
}

fn asn_error(path: &Path, what: impl std::fmt::Display) -> String {
    format!("association {}: {what}", path.display())
}

impl Association {
    /// Whether `path` names an association (a `.json` file), as jwst decides.
    pub fn is_association(path: &Path) -> bool {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    }

    /// Read an association file.
    pub fn load(path: &Path) -> Result<Association, String> {
        let text = std::fs::read_to_string(path).map_err(|e| asn_error(path, e))?;
        Self::parse(&text, path)
    }

    /// An association file, or a singleton for any other input (a FITS exposure).
    pub fn load_or_singleton(path: &Path) -> Result<Association, String> {
        if Self::is_association(path) {
            Self::load(path)
        } else {
            Ok(Self::singleton(path))
        }
    }

    /// Parse association JSON; `path` locates the members and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Association, String> {
        let root: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| asn_error(path, format!("invalid JSON: {e}")))?;
        let obj = root
            .as_object()
            .ok_or_else(|| asn_error(path, "not a JSON object"))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let text_field = |key: &str| -> Result<Option<String>, String> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(asn_error(path, format!("`{key}` is not a string"))),
            }
        };
        let products_json = obj
            .get("products")
            .and_then(|p| p.as_array())
            .ok_or_else(|| asn_error(path, "no `products` list (required)"))?;
        let mut products = Vec::with_capacity(products_json.len());
        for (i, p) in products_json.iter().enumerate() {
            let name = match p.get("name") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(asn_error(
                        path,
                        format!("products[{i}].name is not a string"),
                    ))
                }
            };
            let members_json = p
                .get("members")
                .and_then(|m| m.as_array())
                .ok_or_else(|| asn_error(path, format!("products[{i}] has no `members` list")))?;
            let mut members = Vec::with_capacity(members_json.len());
            for (j, m) in members_json.iter().enumerate() {
                let field = |k: &str| {
                    m.get(k)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            asn_error(
                                path,
                                format!("products[{i}].members[{j}] has no string `{k}`"),
                            )
                        })
                };
                let expname = field("expname")?;
                let exptype = field("exptype")?;
                members.push(Member {
                    path: dir.join(&expname),
                    expname,
                    exptype,
                });
            }
            products.push(Product { name, members });
        }
        Ok(Association {
            path: path.to_path_buf(),
            dir,
            asn_type: text_field("asn_type")?,
            asn_rule: text_field("asn_rule")?,
            asn_id: text_field("asn_id")?,
            asn_pool: text_field("asn_pool")?,
            program: text_field("program")?,
            target: text_field("target")?,
            products,
            singleton: false,
        })
    }

    /// The one-member association jwst builds around a plain exposure (`asn_from_list` with the
    /// file name as product name, pool `singleton`).
    pub fn singleton(path: &Path) -> Association {
        let expname = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Association {
            path: path.to_path_buf(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            asn_type: None,
            asn_rule: None,
            asn_id: None,
            asn_pool: Some("singleton".into()),
            program: None,
            target: None,
            products: vec![Product {
                name: Some(expname.clone()),
                members: vec![Member {
                    expname,
                    exptype: "science".into(),
                    path: path.to_path_buf(),
                }],
            }],
            singleton: true,
        }
    }

    /// The product a Level 3 pipeline processes (the first), or an error naming the file.
    pub fn first_product(&self) -> Result<&Product, String> {
        let p = self
            .products
            .first()
            .ok_or_else(|| asn_error(&self.path, "has no products"))?;
        if p.science_members().next().is_none() {
            return Err(asn_error(
                &self.path,
                "the first product has no science member",
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_members_against_the_asn_folder() {
        let a = Association::parse(
            r#"{"asn_type": "tso3", "asn_id": "o001", "asn_pool": "pool", "version_id": null,
                "products": [{"name": "jw01234-o001_t001_nircam_clear",
                  "members": [{"expname": "a_calints.fits", "exptype": "science"},
                              {"expname": "/abs/b_calints.fits", "exptype": "SCIENCE"},
                              {"expname": "sub/c.fits", "exptype": "background"}]}]}"#,
            Path::new("/data/asn/x_asn.json"),
        )
        .unwrap();
        let p = a.first_product().unwrap();
        let paths: Vec<_> = p.science_members().map(|m| m.path.clone()).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/data/asn/a_calints.fits"),
                PathBuf::from("/abs/b_calints.fits")
            ]
        );
        assert_eq!(p.members[2].path, PathBuf::from("/data/asn/sub/c.fits"));
        assert_eq!(a.asn_id.as_deref(), Some("o001"));
        assert_eq!(p.output_base(None), "jw01234-o001_t001_nircam_clear");
        assert_eq!(p.output_base(Some("mine.fits")), "mine.fits");
    }

    #[test]
    fn refuses_malformed_files() {
        let e = Association::parse(r#"{"asn_id": "x"}"#, Path::new("a.json")).unwrap_err();
        assert!(e.contains("a.json") && e.contains("products"), "{e}");
        let e = Association::parse(
            r#"{"products": [{"members": [{"expname": "a"}]}]}"#,
            Path::new("b.json"),
        )
        .unwrap_err();
        assert!(e.contains("exptype"), "{e}");
        assert!(Association::parse("{", Path::new("c.json")).is_err());
    }

    #[test]
    fn singleton_of_a_fits_file() {
        let a = Association::load_or_singleton(Path::new("d/x_rate.fits")).unwrap();
        assert!(a.singleton);
        assert_eq!(a.products[0].name.as_deref(), Some("x_rate.fits"));
        assert_eq!(
            a.products[0].members[0].path,
            PathBuf::from("d/x_rate.fits")
        );
    }
}
