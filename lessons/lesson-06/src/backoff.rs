//! How long to wait before reconnecting.
//!
//! Reconnecting at once, in a loop, hammers a server that is restarting (and every client of it
//! does the same at the same moment). Exponential back-off waits twice as long after each
//! failure, up to a cap; jitter picks a random wait below that bound ("full jitter"), so clients
//! that failed together do not come back together.

use std::time::Duration;

// ANCHOR: backoff
/// The upper bound of the wait before attempt `attempt` (2 for the first retry): `first`,
/// doubled for every failure after the first, never above `cap`.
pub fn ceiling(attempt: u32, first: Duration, cap: Duration) -> Duration {
    let doublings = attempt.saturating_sub(2).min(30);
    first.saturating_mul(1 << doublings).min(cap)
}

/// The wait before attempt `attempt`: a random share of [`ceiling`]. `random` is a number from
/// 0.0 to 1.0 (a parameter, so tests can choose it).
pub fn wait(attempt: u32, first: Duration, cap: Duration, random: f64) -> Duration {
    ceiling(attempt, first, cap).mul_f64(random.clamp(0.0, 1.0))
}
// ANCHOR_END: backoff

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let ms = Duration::from_millis;
        let bounds: Vec<_> = (2..=8).map(|a| ceiling(a, ms(100), ms(2000))).collect();
        assert_eq!(
            bounds,
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2000),
                ms(2000)
            ]
        );
        assert_eq!(ceiling(u32::MAX, ms(100), ms(2000)), ms(2000));
        assert_eq!(wait(4, ms(100), ms(2000), 0.5), ms(200));
        assert_eq!(wait(4, ms(100), ms(2000), 7.0), ms(400));
    }
}
