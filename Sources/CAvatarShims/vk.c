#include "avd_vk.h"

uint32_t avd_vk_make_api_version(uint32_t v, uint32_t ma, uint32_t mi, uint32_t p) { return VK_MAKE_API_VERSION(v, ma, mi, p); }
uint32_t avd_vk_api_version_1_2(void) { return VK_API_VERSION_1_2; }
uint32_t avd_vk_api_version_1_3(void) { return VK_API_VERSION_1_3; }
uint32_t avd_vk_api_version_major(uint32_t v) { return VK_API_VERSION_MAJOR(v); }
uint32_t avd_vk_api_version_minor(uint32_t v) { return VK_API_VERSION_MINOR(v); }
uint32_t avd_vk_api_version_patch(uint32_t v) { return VK_API_VERSION_PATCH(v); }
