//! A command's words after its name: positional values, `--flag value` (or `--flag=value`) and
//! switches, each flag known in advance so a misspelt one is an error, not ignored.

use super::Failure;
use std::collections::BTreeMap;

pub struct Args {
    pub positional: Vec<String>,
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
}

impl Args {
    /// `value_flags` take a value; `switches` stand alone. Names without the leading `--`.
    pub fn parse(
        words: &[&str],
        value_flags: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Self, Failure> {
        let mut args = Args {
            positional: Vec::new(),
            values: BTreeMap::new(),
            switches: Vec::new(),
        };
        let mut words = words.iter();
        while let Some(word) = words.next() {
            let Some(flag) = word.strip_prefix("--") else {
                args.positional.push((*word).to_owned());
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (flag, None),
            };
            if let Some(known) = switches.iter().find(|s| **s == name) {
                if inline.is_some() {
                    return Err(Failure::Usage(format!("--{name} takes no value")));
                }
                args.switches.push(known);
            } else if let Some(known) = value_flags.iter().find(|s| **s == name) {
                let value = match inline {
                    Some(value) => value,
                    None => words
                        .next()
                        .map(|value| (*value).to_owned())
                        .ok_or_else(|| Failure::Usage(format!("--{name} needs a value")))?,
                };
                if args.values.insert(known, value).is_some() {
                    return Err(Failure::Usage(format!("--{name} is given twice")));
                }
            } else {
                return Err(Failure::Usage(format!("unknown option --{name}")));
            }
        }
        Ok(args)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    /// Exactly `names.len()` positional values, or a usage error naming the first missing.
    pub fn positional<const N: usize>(&self, names: [&str; N]) -> Result<[&str; N], Failure> {
        if self.positional.len() > N {
            return Err(Failure::Usage(format!(
                "unexpected `{}`",
                self.positional[N]
            )));
        }
        let mut out = [""; N];
        for (i, name) in names.iter().enumerate() {
            out[i] = self
                .positional
                .get(i)
                .ok_or_else(|| Failure::Usage(format!("{name} is missing")))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_values_either_way_and_unknown_ones_are_named() {
        let args = Args::parse(
            &["msg_1", "--url=http://x", "--status", "failed", "--json"],
            &["url", "status"],
            &["json"],
        )
        .unwrap();
        assert_eq!(args.positional(["ID"]).unwrap(), ["msg_1"]);
        assert_eq!(args.value("url"), Some("http://x"));
        assert_eq!(args.value("status"), Some("failed"));
        assert!(args.switch("json"));
        for (words, said) in [
            (&["--colour"][..], "unknown option --colour"),
            (&["--status"][..], "--status needs a value"),
            (&["--json=yes"][..], "--json takes no value"),
            (&["--url", "a", "--url", "b"][..], "--url is given twice"),
        ] {
            let error = Args::parse(words, &["url", "status"], &["json"])
                .err()
                .unwrap();
            assert_eq!(error.to_string(), said);
        }
        let args = Args::parse(&[], &[], &[]).unwrap();
        assert_eq!(
            args.positional(["ID"]).err().unwrap().to_string(),
            "ID is missing"
        );
        let args = Args::parse(&["a", "b"], &[], &[]).unwrap();
        assert_eq!(
            args.positional(["ID"]).err().unwrap().to_string(),
            "unexpected `b`"
        );
    }
}
