// Module AvatarMedia.
