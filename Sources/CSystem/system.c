#include "CSystem.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t requested = 0;
static int installed = 0;

static void on_stop(int signal) { requested = signal; }

void csys_install_stop_handler(void) {
    if (installed) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGUSR1, &sa, 0);
    installed = 1;
}

int csys_stop_signal(void) { return requested; }
void csys_clear_stop(void) { requested = 0; }
int csys_raise(int signal) { return raise(signal); }
