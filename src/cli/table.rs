//! Columns aligned for a terminal, and times as people read them.

/// `headers` and `rows` as left-aligned columns two spaces apart.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

/// Unix seconds as `2026-11-23 22:44:14Z`; `-` when absent.
pub fn time(unix_seconds: Option<i64>) -> String {
    let Some(seconds) = unix_seconds else {
        return "-".to_owned();
    };
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        Err(_) => seconds.to_string(),
    }
}

/// At most `max` characters, with `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_times_read() {
        let text = render(
            &["ID", "STATUS"],
            &[
                vec!["msg_1".into(), "failed".into()],
                vec!["m".into(), "pending".into()],
            ],
        );
        assert_eq!(text, "ID     STATUS\nmsg_1  failed\nm      pending");
        assert_eq!(time(Some(1_689_366_274)), "2023-07-14 20:24:34Z");
        assert_eq!(time(None), "-");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ab", 4), "ab");
    }
}
