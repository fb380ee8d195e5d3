//! The progress bar of the long commands (`run`, `check`, `sweep`), one look for all: on
//! stderr, a count of `unit` done, the time so far and an estimate of what is left, kept
//! moving between updates (a big scenario can take minutes per step). It only draws: no
//! simulation reads it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar to `len` steps of `unit` (plain words: no braces), or a hidden one when not `shown`.
pub fn bar(len: u64, unit: &str, shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len.max(1)), ProgressDrawTarget::stderr());
    let template = format!(
        "{{spinner}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{elapsed}} so far, {{eta}} left)"
    );
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bar_counts_its_unit_and_hides_when_not_shown() {
        let hidden = super::bar(10, "runs", false);
        assert!(hidden.is_hidden());
        let shown = super::bar(0, "runs", true);
        assert_eq!(shown.length(), Some(1), "an empty task still has one step");
        shown.finish_and_clear();
    }
}
