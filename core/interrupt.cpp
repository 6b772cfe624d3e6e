// The signal thread: it only records what arrived. No handler runs code on a compute thread (with a
// handler, SIGUSR1 once corrupted the heap in about 1 train run in 6; never with sigwait).
#include "core/interrupt.h"

#include <pthread.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace parbench::interrupt {

namespace {

std::atomic<int> g_signal{0};                        // the first interrupting signal
std::atomic<int> g_arrivals{0};                      // signals taken, of any kind (the test hook waits for one)
std::atomic<std::atomic<bool>*> g_preempt{nullptr};  // train --checkpoint: SIGTERM/SIGUSR1 preempt instead

std::once_flag g_installed;
sigset_t g_taken;          // the signals the thread takes
sigset_t g_original_mask;  // main()'s mask before install(), for child processes
bool g_have_original = false;

bool ignored(int signal) {
  struct sigaction action {};
  return sigaction(signal, nullptr, &action) == 0 && action.sa_handler == SIG_IGN;
}

// Ends the process with the signal's default action: a second Ctrl-C does not wait for a safe point.
[[noreturn]] void die_by(int signal) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, nullptr);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signal);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(signal);  // delivered to this thread, now unblocked: the default action ends the process
  std::_Exit(exit_status(signal));
}

void take_signals() {
  for (;;) {
    int signal = 0;
    if (sigwait(&g_taken, &signal) != 0) continue;
    g_arrivals.fetch_add(1);
    if (std::atomic<bool>* preempt = g_preempt.load(); preempt && (signal == SIGTERM || signal == SIGUSR1)) {
      preempt->store(true);
      continue;
    }
    int none = 0;
    if (!g_signal.compare_exchange_strong(none, signal)) die_by(signal);
  }
}

}  // namespace

void install() {
  std::call_once(g_installed, [] {
    pthread_sigmask(SIG_BLOCK, nullptr, &g_original_mask);
    g_have_original = true;
    sigemptyset(&g_taken);
    // A signal the parent set to be ignored stays ignored: a shell without job control starts
    // background commands with SIGINT ignored so that Ctrl-C does not reach them.
    for (const int signal : {SIGINT, SIGTERM, SIGUSR1}) {
      if (!ignored(signal)) sigaddset(&g_taken, signal);
    }
    pthread_sigmask(SIG_BLOCK, &g_taken, nullptr);
    std::thread(take_signals).detach();  // blocked in sigwait until the process exits
  });
}

int requested_signal() { return g_signal.load(std::memory_order_relaxed); }

Interrupted::Interrupted(int signal)
    : std::runtime_error(std::string("interrupted by ") + signal_name(signal)), signal_(signal) {}

void throw_if_interrupted() {
  if (const int signal = requested_signal()) throw Interrupted(signal);
}

int exit_status(int signal) { return 128 + signal; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

void preempt_on(std::atomic<bool>* flag) { g_preempt.store(flag); }

void restore_signals_in_child() {
  if (g_have_original) pthread_sigmask(SIG_SETMASK, &g_original_mask, nullptr);
}

void set_spawn_signal_mask(posix_spawnattr_t* attributes) {
  sigset_t mask;
  if (g_have_original) {
    mask = g_original_mask;
  } else {
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  }
  short flags = 0;
  posix_spawnattr_getflags(attributes, &flags);
  posix_spawnattr_setflags(attributes, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK));
  posix_spawnattr_setsigmask(attributes, &mask);
}

void hold_output_for_test() {
  static std::atomic<bool> held{false};
  const char* text = std::getenv("PARBENCH_TEST_HOLD_OUTPUT");
  if (text == nullptr || held.exchange(true)) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::atof(text));
  while (g_arrivals.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace parbench::interrupt
