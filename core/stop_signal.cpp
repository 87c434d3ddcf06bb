#include "core/stop_signal.h"

#include <csignal>
#include <initializer_list>
#include <cstring>
#include <unistd.h>

namespace principia {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void write_stderr(const char* s) {
  ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

// Async-signal-safe: records the first signal; a second one ends the process at once.
extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal != 0) {
    write_stderr("\nsecond stop signal: exiting now (the last checkpoint holds the last saved state)\n");
    ::_exit(128 + sig);
  }
  g_stop_signal = sig;
  write_stderr("\nstop signal received: finishing this step, writing a checkpoint, then exiting "
               "(send it again to exit at once)\n");
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads and writes continue; the loop checks the flag
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) ::sigaction(sig, &sa, nullptr);
}

int stop_requested() { return g_stop_signal; }

const char* stop_signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    default: return "a signal";
  }
}

}  // namespace principia
