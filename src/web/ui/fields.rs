//! Number inputs bound to a setting of [`crate::settings`]: the input carries the setting's
//! `min`/`max`, and a value out of range (or not a number) shows the setting's sentence under the
//! field and is listed in the form's problems, so an action refuses to start while it stands.

use crate::settings::{Real, Whole};
use leptos::prelude::*;

/// What is wrong in a form, per field (test id → sentence).
#[derive(Clone, Copy)]
pub struct Problems(RwSignal<Vec<(&'static str, String)>>);

impl Problems {
    pub fn new() -> Self {
        Problems(RwSignal::new(Vec::new()))
    }

    fn set(&self, field: &'static str, problem: Option<String>) {
        self.0.update(|list| {
            list.retain(|(f, _)| *f != field);
            if let Some(p) = problem {
                list.push((field, p));
            }
        });
    }

    fn of(&self, field: &'static str) -> Option<String> {
        self.0.with(|list| list.iter().find(|(f, _)| *f == field).map(|(_, p)| p.clone()))
    }

    /// The first problem, to say why an action did not start.
    pub fn first(&self) -> Option<String> {
        self.0.with_untracked(|list| list.first().map(|(_, p)| p.clone()))
    }
}

#[allow(clippy::too_many_arguments)]
fn field(
    label: &'static str,
    testid: &'static str,
    min: String,
    max: String,
    step: &'static str,
    shown: impl Fn() -> String + Send + Sync + 'static,
    problems: Problems,
    accept: impl Fn(&str) -> Result<(), String> + 'static,
    beside: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <label class="field" class:invalid=move || problems.of(testid).is_some()>
            {label}
            <input type="number" data-testid=testid min=min max=max step=step prop:value=shown
                aria-invalid=move || problems.of(testid).is_some().to_string()
                on:change=move |ev| problems.set(testid, accept(&event_target_value(&ev)).err())/>
            {beside}
            <Show when=move || problems.of(testid).is_some()>
                <span class="field-problem" role="alert" data-testid=format!("{testid}-problem")>{move || problems.of(testid).unwrap_or_default()}</span>
            </Show>
        </label>
    }
}

/// A whole-number field; `value` changes only to values the setting accepts.
pub fn whole<T>(label: &'static str, testid: &'static str, setting: Whole, value: RwSignal<T>, problems: Problems) -> impl IntoView
where
    T: TryFrom<u64> + std::fmt::Display + Copy + Send + Sync + 'static,
{
    let accept = move |text: &str| {
        let v = setting.parse(text).map_err(|e| e.0)?;
        value.set(T::try_from(v).map_err(|_| format!("{v} is too large"))?);
        Ok(())
    };
    field(label, testid, setting.min.to_string(), setting.max.to_string(), "1", move || value.get().to_string(), problems, accept, ())
}

/// The float types a setting's value is stored in.
pub trait FromReal {
    fn from_real(v: f64) -> Self;
}

impl FromReal for f64 {
    fn from_real(v: f64) -> Self {
        v
    }
}

impl FromReal for f32 {
    fn from_real(v: f64) -> Self {
        v as f32
    }
}

/// A field on a continuous scale.
pub fn real<T>(label: &'static str, testid: &'static str, setting: Real, step: &'static str, value: RwSignal<T>, problems: Problems) -> impl IntoView
where
    T: FromReal + std::fmt::Display + Copy + Send + Sync + 'static,
{
    real_with(label, testid, setting, step, value, problems, ())
}

/// A field on a continuous scale with another way to set it beside the number (a slider, words),
/// so one setting is one control.
pub fn real_with<T>(label: &'static str, testid: &'static str, setting: Real, step: &'static str, value: RwSignal<T>, problems: Problems, beside: impl IntoView + 'static) -> impl IntoView
where
    T: FromReal + std::fmt::Display + Copy + Send + Sync + 'static,
{
    let accept = move |text: &str| {
        let v = setting.parse(text).map_err(|e| e.0)?;
        value.set(T::from_real(v));
        Ok(())
    };
    field(label, testid, setting.min.to_string(), setting.max.to_string(), step, move || value.get().to_string(), problems, accept, beside)
}
