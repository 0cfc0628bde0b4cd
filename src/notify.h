/*
 * notify: tell systemd how kvfs is doing (Type=notify services), by the
 * documented datagram protocol on $NOTIFY_SOCKET, without libsystemd.
 */
#ifndef KVFS_NOTIFY_H
#define KVFS_NOTIFY_H

/*
 * Send state (e.g. "READY=1") if NOTIFY_SOCKET is set; does nothing
 * otherwise.  Returns 0, or a negative errno (logged by the caller).
 */
int notify_systemd(const char *state);

#endif
