// The i2c-dev uAPI (include/uapi/linux/i2c-dev.h, served by drivers/i2c/i2c-dev.c). These
// request numbers are plain constants in the header, not _IO macros, so they stay literals here.
//
// The driver uses the simplest contract: I2C_SLAVE selects the chip, then each write(2) is one
// I2C write transaction [register, data...] and each read(2) one read transaction. No pointer-
// carrying structs (I2C_RDWR, I2C_SMBUS) cross the port, so the fake kernel sees every byte.

/** #define I2C_SLAVE 0x0703 — use this slave address; the argument is the address itself. */
export const I2C_SLAVE = 0x0703;
/** #define I2C_FUNCS 0x0705 — get the adapter functionality mask (pointer to unsigned long). */
export const I2C_FUNCS = 0x0705;
/** #define I2C_SLAVE_FORCE 0x0706 — as I2C_SLAVE, even if a kernel driver claimed the address. */
export const I2C_SLAVE_FORCE = 0x0706;

/** 7-bit addresses that are not reserved (0x00–0x07 and 0x78–0x7f are). */
export const I2C_ADDRESS_MIN = 0x08;
export const I2C_ADDRESS_MAX = 0x77;

/** i2c-dev.c caps one read or write at 8192 bytes; ours are a few bytes. */
export const I2C_DEV_MAX_TRANSFER = 8192;

export function hex(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}
