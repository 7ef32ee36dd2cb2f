#include "CGStreamerShims.h"

GstClockTime avd_gst_clock_time_none(void) { return GST_CLOCK_TIME_NONE; }
void avd_gst_buffer_set_pts(GstBuffer *b, GstClockTime t) { GST_BUFFER_PTS(b) = t; }
void avd_gst_buffer_set_dts(GstBuffer *b, GstClockTime t) { GST_BUFFER_DTS(b) = t; }
void avd_gst_buffer_set_duration(GstBuffer *b, GstClockTime t) { GST_BUFFER_DURATION(b) = t; }
GstClockTime avd_gst_buffer_get_pts(GstBuffer *b) { return GST_BUFFER_PTS(b); }
GstClockTime avd_gst_buffer_get_duration(GstBuffer *b) { return GST_BUFFER_DURATION(b); }
GstMessageType avd_gst_message_type(GstMessage *m) { return GST_MESSAGE_TYPE(m); }
GstObject *avd_gst_message_src(GstMessage *m) { return GST_MESSAGE_SRC(m); }

void avd_g_object_set_int(gpointer o, const gchar *n, gint v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_uint(gpointer o, const gchar *n, guint v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_int64(gpointer o, const gchar *n, gint64 v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_uint64(gpointer o, const gchar *n, guint64 v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_bool(gpointer o, const gchar *n, gboolean v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_string(gpointer o, const gchar *n, const gchar *v) { g_object_set(o, n, v, NULL); }
void avd_g_object_set_caps(gpointer o, const gchar *n, GstCaps *v) { g_object_set(o, n, v, NULL); }

gboolean avd_gst_is_bin(gpointer o) { return GST_IS_BIN(o); }
GList *avd_gst_bin_children(GstBin *b) { return GST_BIN_CHILDREN(b); }
const gchar *avd_gst_element_factory_name(GstElement *e) {
    GstElementFactory *f = gst_element_get_factory(e);
    return f ? gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(f)) : NULL;
}
const gchar *avd_gst_object_name(gpointer o) { return GST_OBJECT_NAME(o); }

gchar *avd_g_object_get_string(gpointer o, const gchar *n) { gchar *v = NULL; g_object_get(o, n, &v, NULL); return v; }
GParamSpec **avd_g_object_list_properties(gpointer o, guint *n) { return g_object_class_list_properties(G_OBJECT_GET_CLASS(o), n); }
gboolean avd_g_param_spec_is_readable_string(GParamSpec *s) {
    return s->value_type == G_TYPE_STRING && (s->flags & G_PARAM_READABLE) != 0;
}
gulong avd_g_signal_connect_pad_added(GstElement *e, avd_pad_added_callback cb, gpointer d, GClosureNotify destroy) {
    return g_signal_connect_data(e, "pad-added", G_CALLBACK(cb), d, destroy, 0);
}
