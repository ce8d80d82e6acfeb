// CSystem: the few POSIX things Swift cannot do safely on its own. Signal handlers may touch only
// a volatile sig_atomic_t; these install one for SIGTERM and SIGUSR1 (what SLURM sends before a
// preemption or the time limit) that records the request and nothing else.
#ifndef CSYSTEM_H
#define CSYSTEM_H

/// Installs the stop-request handler for SIGTERM and SIGUSR1 (idempotent).
void csys_install_stop_handler(void);
/// The signal that asked to stop (SIGTERM or SIGUSR1), or 0.
int csys_stop_signal(void);
/// Forgets a request (tests).
void csys_clear_stop(void);
/// Sends `signal` to this process (tests and fault injection).
int csys_raise(int signal);
#endif
