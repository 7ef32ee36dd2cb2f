// Module AvatarVulkan.
