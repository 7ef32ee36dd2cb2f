#pragma once
#include <vulkan/vulkan.h>

// Vulkan version macros are function-like and do not import into Swift.
uint32_t avd_vk_api_version_1_2(void);
uint32_t avd_vk_api_version_major(uint32_t version);
uint32_t avd_vk_api_version_minor(uint32_t version);
uint32_t avd_vk_api_version_patch(uint32_t version);
