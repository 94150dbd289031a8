/* SPDX-License-Identifier: GPL-2.0 */
/* The dashboard's built-in 5x7 bitmap font (no SDL_ttf). */
#ifndef VLAB_DASH_FONT_H
#define VLAB_DASH_FONT_H

#include <stdint.h>

#define FONT_W	5
#define FONT_H	7

/* @c's FONT_H rows, bit 4 the leftmost pixel; a box for what it lacks. */
const uint8_t *font_glyph(char c);

#endif
