//! The little statistics the models need: quantiles, means, a least-squares
//! line with its t-statistic, the normal and Student's t tails (through the
//! regularized incomplete beta function), and a seeded PRNG
//! (SplitMix64) so the synthetic history is the same on every machine.

/// The `q` quantile of sorted, non-empty `values`, linearly interpolated.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let next = sorted.get(i + 1).copied().unwrap_or(sorted[i]);
    sorted[i] + (next - sorted[i]) * frac
}

/// `values` sorted ascending.
pub fn sorted(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The arithmetic mean; 0 for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// A fitted line `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub intercept: f64,
    /// Share of the variance the line explains (0 when `y` is constant).
    pub r2: f64,
    /// The slope over its standard error (0 when undefined).
    pub t: f64,
    pub n: usize,
}

/// Ordinary least squares of `y` on `x`; `None` with fewer than 3 points or
/// a constant `x`.
pub fn least_squares(x: &[f64], y: &[f64]) -> Option<Line> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let (mx, my) = (mean(&x[..n]), mean(&y[..n]));
    let sxx: f64 = x[..n].iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = (0..n).map(|i| (x[i] - mx) * (y[i] - my)).sum();
    let syy: f64 = y[..n].iter().map(|v| (v - my).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = (0..n)
        .map(|i| (y[i] - intercept - slope * x[i]).powi(2))
        .sum();
    let r2 = if syy <= f64::EPSILON {
        0.0
    } else {
        (1.0 - sse / syy).clamp(0.0, 1.0)
    };
    let se = (sse / (n - 2) as f64 / sxx).sqrt();
    let t = if se > 1e-12 {
        slope / se
    } else if slope.abs() > 1e-12 {
        slope.signum() * 1e6
    } else {
        0.0
    };
    Some(Line {
        slope,
        intercept,
        r2,
        t,
        n,
    })
}

/// The standard normal distribution function (Abramowitz-Stegun 7.1.26, error < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The two-sided p-value of a t-statistic with `df` degrees of freedom
/// (Student's t): `I_{df/(df+t²)}(df/2, 1/2)`. NaN for `df <= 0`.
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if df <= 0.0 || t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    regularized_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The regularized incomplete beta function `I_x(a, b)` for `a, b > 0` and
/// `0 <= x <= 1`, by its continued fraction (modified Lentz), evaluated on
/// whichever side converges fast. Accurate to about 1e-12.
pub fn regularized_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (Numerical Recipes' `betacf`).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine coefficients; relative error < 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Rounds to `digits` decimals, for answers that should not show float noise.
pub fn round(value: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (value * f).round() / f
}

/// SplitMix64: a tiny, well-mixed, seeded generator (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
}

/// A stable 64-bit hash of a string (FNV-1a), for per-route seeds.
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = sorted([4.0, 1.0, 3.0, 2.0]);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
    }

    #[test]
    fn least_squares_finds_the_line() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.1, 4.9, 7.0, 9.0];
        let line = least_squares(&x, &y).unwrap();
        assert!((line.slope - 2.0).abs() < 0.05);
        assert!(line.r2 > 0.99 && line.t > 20.0);
        assert!(least_squares(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn student_t_p_values_match_tables() {
        // The case: n = 10 points, so 8 degrees of freedom, t = 2.0.
        let p = student_t_two_sided_p(2.0, 8.0);
        assert!((p - 0.080_516).abs() < 1e-5, "{p}");
        assert!(
            p > 0.05,
            "not significant, where the normal tail said 0.046"
        );
        // Critical values: t(0.975, df) leaves 5% in both tails.
        for (t, df) in [
            (12.706_205, 1.0),
            (2.306_004, 8.0),
            (2.085_963, 20.0),
            (1.983_972, 100.0),
        ] {
            let p = student_t_two_sided_p(t, df);
            assert!((p - 0.05).abs() < 1e-6, "df {df}: {p}");
        }
        // df = 1 is Cauchy: p = 1 - 2 atan(t) / π.
        let cauchy = 1.0 - 2.0 * 3f64.atan() / std::f64::consts::PI;
        assert!((student_t_two_sided_p(3.0, 1.0) - cauchy).abs() < 1e-12);
        assert_eq!(student_t_two_sided_p(0.0, 5.0), 1.0);
        assert!(student_t_two_sided_p(1e6, 3.0) < 1e-12);
        assert!(student_t_two_sided_p(-2.0, 8.0) == p);
        // Many degrees of freedom: the normal tail.
        let z = 2.0 * (1.0 - normal_cdf(2.0));
        assert!((student_t_two_sided_p(2.0, 1e6) - z).abs() < 1e-5);
    }

    #[test]
    fn incomplete_beta_and_gamma_match_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        // I_x(1, 1) = x; I_x(a, 1) = x^a; symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
        assert!((regularized_beta(1.0, 1.0, 0.3) - 0.3).abs() < 1e-13);
        assert!((regularized_beta(3.0, 1.0, 0.6) - 0.216).abs() < 1e-13);
        let (a, b, x) = (2.5, 4.0, 0.35);
        let sum = regularized_beta(a, b, x) + regularized_beta(b, a, 1.0 - x);
        assert!((sum - 1.0).abs() < 1e-12);
        assert_eq!(regularized_beta(2.0, 3.0, 0.0), 0.0);
        assert_eq!(regularized_beta(2.0, 3.0, 1.0), 1.0);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655).abs() < 1e-6);
    }

    #[test]
    fn splitmix_is_deterministic_and_roughly_uniform() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let draws: Vec<f64> = (0..10_000).map(|_| a.uniform()).collect();
        assert!((mean(&draws) - 0.5).abs() < 0.02);
        let normals: Vec<f64> = (0..10_000).map(|_| a.normal()).collect();
        assert!(mean(&normals).abs() < 0.05);
    }
}
