#pragma once
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>

// GStreamer timestamp macros as functions (function-like macros do not import into Swift).
GstClockTime avd_gst_clock_time_none(void);
void avd_gst_buffer_set_pts(GstBuffer *buffer, GstClockTime pts);
void avd_gst_buffer_set_dts(GstBuffer *buffer, GstClockTime dts);
void avd_gst_buffer_set_duration(GstBuffer *buffer, GstClockTime duration);
GstClockTime avd_gst_buffer_get_pts(GstBuffer *buffer);
GstClockTime avd_gst_buffer_get_duration(GstBuffer *buffer);
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

// Property introspection for the allowlist (settings that name further element factories).
gchar *avd_g_object_get_string(gpointer object, const gchar *name);
GParamSpec **avd_g_object_list_properties(gpointer object, guint *count);
gboolean avd_g_param_spec_is_readable_string(GParamSpec *spec);

// Typed g_signal_connect for decodebin/parsebin "pad-added" (g_signal_connect is a macro).
typedef void (*avd_pad_added_callback)(GstElement *element, GstPad *pad, gpointer user_data);
gulong avd_g_signal_connect_pad_added(GstElement *element, avd_pad_added_callback callback, gpointer user_data,
                                      GClosureNotify destroy);
#include "CGStreamerWebRTCShims.h"
