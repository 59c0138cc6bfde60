//! Conekta's paginated lists (`{"object": "list", "has_more", "data", "next_page_url"}`).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_page_url: Option<String>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            next_page_url: None,
        }
    }
}
