/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the dashboard draws what, in pixels of its frame; shared with the
 * screenshot test, which looks at these areas of the image.
 */
#ifndef VLAB_DASH_LAYOUT_H
#define VLAB_DASH_LAYOUT_H

#define DASH_W		1024
#define DASH_H		660

/* Guest RAM: a square grid of cells. */
#define DASH_RAM_X	16
#define DASH_RAM_Y	44
#define DASH_RAM_SIZE	512

/* The migration panel, framed in DASH_MIG_RGB while a migration is shown. */
#define DASH_MIG_X	548
#define DASH_MIG_Y	44
#define DASH_MIG_W	460
#define DASH_MIG_H	172
#define DASH_MIG_RGB	0xff9f1c

/* The RAM map's marks and their colours. */
#define DASH_RGB_UNTOUCHED	0x2a2a33
#define DASH_RGB_TOUCHED	0x46608a
#define DASH_RGB_SENT		0x3caa5a
#define DASH_RGB_ROUND		0xe6be3c
#define DASH_RGB_RECENT		0xe6463c

#endif
