#ifndef EVAC_CLIBVIRT_SHIM_H
#define EVAC_CLIBVIRT_SHIM_H
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif
