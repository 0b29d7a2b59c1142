//! The training slice of the page's state: where a run stands, its reports, its loss curves and
//! the samples heard after each epoch. Its methods are the actions and the worker's answers.

use crate::midi::Note;
use crate::protocol::ToWorker;
use crate::train::Progress;
use crate::web::bridge;
use leptos::prelude::*;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainStatus {
    Idle,
    Training,
    Paused,
    Done,
}

#[derive(Clone, Copy)]
pub struct TrainingState {
    pub status: RwSignal<TrainStatus>,
    pub progress: RwSignal<Option<Progress>>,
    pub train_curve: RwSignal<Vec<(usize, f64)>>,
    pub valid_curve: RwSignal<Vec<(usize, f64)>>,
    /// A few bars from the model after each epoch of the current run: (epoch, notes).
    pub epoch_samples: RwSignal<Vec<(usize, Arc<Vec<Note>>)>>,
    /// Why the last run ended and which model it kept, in a sentence.
    pub stopped: RwSignal<Option<String>>,
}

impl TrainingState {
    pub fn new() -> Self {
        TrainingState {
            status: RwSignal::new(TrainStatus::Idle),
            progress: RwSignal::new(None),
            train_curve: RwSignal::new(Vec::new()),
            valid_curve: RwSignal::new(Vec::new()),
            epoch_samples: RwSignal::new(Vec::new()),
            stopped: RwSignal::new(None),
        }
    }

    /// A run starts: nothing of the last one is shown.
    pub fn begin(self) {
        self.train_curve.set(Vec::new());
        self.valid_curve.set(Vec::new());
        self.epoch_samples.set(Vec::new());
        self.progress.set(None);
        self.stopped.set(None);
        self.status.set(TrainStatus::Training);
    }

    /// Training is running or paused.
    pub fn running(self) -> bool {
        matches!(self.status.get(), TrainStatus::Training | TrainStatus::Paused)
    }

    pub fn pause(self) {
        bridge::send(&ToWorker::Pause);
    }

    pub fn resume(self) {
        self.status.set(TrainStatus::Training);
        bridge::send(&ToWorker::Resume);
    }

    pub fn stop(self) {
        bridge::send(&ToWorker::Stop);
    }

    /// A report from the worker: the curves grow (a report after Resume means it is running).
    pub fn on_progress(self, p: Progress) {
        if p.loss.is_finite() {
            self.train_curve.update(|c| c.push((p.step, p.loss)));
        }
        if let Some(v) = p.valid {
            self.valid_curve.update(|c| c.push((p.step, v.nll)));
        }
        if self.status.get_untracked() == TrainStatus::Paused {
            self.status.set(TrainStatus::Training);
        }
        self.progress.set(Some(p));
    }

    pub fn on_epoch_sample(self, epoch: usize, notes: Vec<Note>) {
        self.epoch_samples.update(|s| s.push((epoch, Arc::new(notes))));
    }

    pub fn on_paused(self) {
        self.status.set(TrainStatus::Paused);
    }

    pub fn on_trained(self, stopped: Option<String>) {
        self.stopped.set(stopped);
        self.status.set(TrainStatus::Done);
    }

    /// The run failed or never started: the controls are free again.
    pub fn on_failed(self) {
        if matches!(self.status.get_untracked(), TrainStatus::Training | TrainStatus::Paused) {
            self.status.set(TrainStatus::Idle);
        }
    }

    /// The curves a saved model was trained with (when it becomes the current one).
    pub fn show_curves(self, train: Vec<(usize, f64)>, valid: Vec<(usize, f64)>) {
        self.train_curve.set(train);
        self.valid_curve.set(valid);
    }
}
