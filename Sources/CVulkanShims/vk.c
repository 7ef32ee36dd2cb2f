#include "CVulkanShims.h"

uint32_t avd_vk_api_version_1_2(void) { return VK_API_VERSION_1_2; }
uint32_t avd_vk_api_version_major(uint32_t v) { return VK_API_VERSION_MAJOR(v); }
uint32_t avd_vk_api_version_minor(uint32_t v) { return VK_API_VERSION_MINOR(v); }
uint32_t avd_vk_api_version_patch(uint32_t v) { return VK_API_VERSION_PATCH(v); }
