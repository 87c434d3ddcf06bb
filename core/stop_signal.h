// Preemption. SIGTERM (what Slurm and Kubernetes send before a kill), SIGUSR1 (Slurm's
// `--signal=USR1@T` warning) and SIGINT (Ctrl-C) ask a run to stop at the next step boundary:
// the trainer finishes the step, writes a checkpoint and exits with kExitPreempted, so a job
// script can requeue it and `--resume auto` continues where it stopped. A second signal exits
// at once (exit code 128 + signal), losing the work since the last checkpoint.
#pragma once

namespace principia {

// EX_TEMPFAIL (sysexits.h): "temporary failure, the user is invited to retry".
inline constexpr int kExitPreempted = 75;

// Installs the handlers (idempotent). No other state: the handler only records the signal.
void install_stop_handlers();
// The signal that asked to stop (SIGTERM, SIGUSR1, SIGINT), or 0.
int stop_requested();
const char* stop_signal_name(int signal);

}  // namespace principia
