#pragma once
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>

// GStreamer timestamp macros as functions (function-like macros do not import into Swift).
GstClockTime avd_gst_second(void);
GstClockTime avd_gst_clock_time_none(void);
void avd_gst_buffer_set_pts(GstBuffer *buffer, GstClockTime pts);
void avd_gst_buffer_set_dts(GstBuffer *buffer, GstClockTime dts);
void avd_gst_buffer_set_duration(GstBuffer *buffer, GstClockTime duration);
GstClockTime avd_gst_buffer_get_pts(GstBuffer *buffer);
GstClockTime avd_gst_buffer_get_duration(GstBuffer *buffer);
void avd_gst_buffer_set_flags(GstBuffer *buffer, guint flags);
GstMessageType avd_gst_message_type(GstMessage *message);
GstObject *avd_gst_message_src(GstMessage *message);

// Typed setters replacing the variadic g_object_set.
void avd_g_object_set_int(gpointer object, const gchar *name, gint value);
void avd_g_object_set_uint(gpointer object, const gchar *name, guint value);
void avd_g_object_set_int64(gpointer object, const gchar *name, gint64 value);
void avd_g_object_set_uint64(gpointer object, const gchar *name, guint64 value);
void avd_g_object_set_bool(gpointer object, const gchar *name, gboolean value);
void avd_g_object_set_string(gpointer object, const gchar *name, const gchar *value);
void avd_g_object_set_caps(gpointer object, const gchar *name, GstCaps *value);

// Type checks and field accessors used to walk a parsed bin for the element allowlist.
gboolean avd_gst_is_bin(gpointer object);
GList *avd_gst_bin_children(GstBin *bin);
const gchar *avd_gst_element_factory_name(GstElement *element);
const gchar *avd_gst_object_name(gpointer object);
