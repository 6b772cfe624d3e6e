// Ctrl-C and kill for every subcommand. SIGINT, SIGTERM and SIGUSR1 are blocked in every thread and
// taken by one thread of its own (sigwait), which only records the request; long operations poll it
// at safe points (per chunk, tensor or step) and unwind with Interrupted, so every OutputFile removes
// its temporary on the way out and main() exits with 128 + the signal, as a shell reports a signal.
#pragma once

#include <signal.h>
#include <spawn.h>

#include <atomic>
#include <stdexcept>

namespace parbench::interrupt {

// Blocks the signals in the calling thread and starts the thread that takes them. Call once, first
// thing in main(), before any other thread exists (MPI's, OpenMP's, loaders'): they inherit the
// mask, so the kernel never runs a handler on one of them. A second SIGINT or SIGTERM (the user
// insists, or the process is stuck) ends the process at once with the signal's default action.
void install();

// The signal that asked this process to stop (SIGINT, SIGTERM, SIGUSR1), 0 while none did.
int requested_signal();
inline bool stop_requested() { return requested_signal() != 0; }

// Thrown at a safe point once a stop was requested. Deliberately not a parbench::Error: code that
// rewords errors ("cannot save checkpoint ...: ...") lets it through untouched.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Throws Interrupted when a stop was requested; otherwise returns at once (one atomic load).
void throw_if_interrupted();

// What main() returns after Interrupted: 128 + signal (130 for SIGINT, 143 for SIGTERM), the
// status a shell shows for a process the signal ended.
int exit_status(int signal);
// "SIGINT", "SIGTERM", "SIGUSR1", else "signal N".
const char* signal_name(int signal);

// `train --checkpoint` (preemption, design.md §10): from now on SIGTERM and SIGUSR1 set `flag`
// (the trainer stops after its step, writes the checkpoint, exits 75) instead of interrupting, and
// repeating them changes nothing (SLURM follows with SIGKILL). SIGINT still interrupts.
void preempt_on(std::atomic<bool>* flag);

// Child processes must not inherit the blocked mask (a spawned mpirun or python could then not be
// stopped). After fork(), before exec (async-signal-safe):
void restore_signals_in_child();
// For posix_spawn: sets the child's signal mask to the one main() started with.
void set_spawn_signal_mask(posix_spawnattr_t* attributes);

// Test hook (tests/interrupt_outputs.sh): with PARBENCH_TEST_HOLD_OUTPUT=S in the environment, the
// first output this process commits waits here, its temporary complete, until a signal arrives (at
// most S seconds): a checkpoint or a report is otherwise written too quickly to be signalled mid-write.
void hold_output_for_test();

}  // namespace parbench::interrupt
