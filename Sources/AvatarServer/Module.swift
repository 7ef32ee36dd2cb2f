// Module AvatarServer.
