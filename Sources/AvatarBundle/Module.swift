// Module AvatarBundle.
