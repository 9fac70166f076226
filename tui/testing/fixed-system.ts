// A machine as tests see it: three NICs, a system disk in use and a free data disk, no hardware
// watchdog. The serial device check is the real one (tests type a device that exists).
import { type SystemSnapshot, checkSerialDevice } from "../setup/system-probe.ts";

export const FIXED_SYSTEM: SystemSnapshot = {
  hostname: "localhost",
  interfaces: [
    { name: "eno1", state: "up", mac: "52:54:00:00:00:01", virtual: false },
    { name: "eno2", state: "up", mac: "52:54:00:00:00:02", virtual: false },
    { name: "eno3", state: "up", mac: "52:54:00:00:00:03", virtual: false },
  ],
  disks: [
    { name: "sda", path: "/dev/sda", size_bytes: 480e9, model: "SSD 480", inUse: "mounted at /" },
    { name: "sdb", path: "/dev/sdb", size_bytes: 2e12, model: "DATA 2T", inUse: null },
  ],
  watchdogs: [
    { value: "softdog", label: "softdog (kernel timer)" },
    { value: "ipmi", label: "BMC (IPMI)" },
    { value: "none", label: "none" },
  ],
  checkSerial: checkSerialDevice,
  serialDefault: "",
};
