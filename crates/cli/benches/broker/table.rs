//! The figures beside their goals, printed as one Markdown table; a missed
//! goal makes the bench exit non-zero.

use std::process::ExitCode;

/// Whether a figure met its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// Printed for reading, not checked.
    Shown,
}

struct Row {
    what: String,
    measured: String,
    goal: String,
    verdict: Verdict,
}

#[derive(Default)]
pub struct Table(Vec<Row>);

impl Table {
    /// A figure with a goal it must meet.
    pub fn check(&mut self, what: &str, measured: String, goal: &str, met: bool) {
        let verdict = if met { Verdict::Met } else { Verdict::Missed };
        self.push(what, measured, goal, verdict);
    }

    /// A figure that is not checked; `goal` says why or what it would be.
    pub fn show(&mut self, what: &str, measured: String, goal: &str) {
        self.push(what, measured, goal, Verdict::Shown);
    }

    fn push(&mut self, what: &str, measured: String, goal: &str, verdict: Verdict) {
        self.0.push(Row {
            what: what.to_string(),
            measured,
            goal: goal.to_string(),
            verdict,
        });
    }

    pub fn print(&self) {
        println!();
        println!("| measure | result | goal | |");
        println!("|---|---|---|---|");
        for row in &self.0 {
            let verdict = match row.verdict {
                Verdict::Met => "met",
                Verdict::Missed => "MISSED",
                Verdict::Shown => "not checked",
            };
            println!(
                "| {} | {} | {} | {verdict} |",
                row.what, row.measured, row.goal
            );
        }
    }

    /// Failure when any goal was missed, naming them.
    pub fn exit_code(&self) -> ExitCode {
        let missed: Vec<&str> = self
            .0
            .iter()
            .filter(|r| r.verdict == Verdict::Missed)
            .map(|r| r.what.as_str())
            .collect();
        if missed.is_empty() {
            return ExitCode::SUCCESS;
        }
        eprintln!("goals missed: {}", missed.join("; "));
        ExitCode::FAILURE
    }
}
